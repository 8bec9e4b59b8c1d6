"""How fast each way of feeding a large image set runs: the feed alone (images/s with no
compute) and training (images/s, and the share of each step spent waiting for data).

    python benchmarks/data_feed.py --work /tmp/feed --n 250000 --threads 2

It first makes the set once under --work: N small PNGs (24 to 96 px, RGB) rendered from
Debian's clip art and emoji (the `clipart` data set) under seeds, each a random crop,
flip, scale and colour shift of one drawing, in class folders; then the same images as an
LSUN-format LMDB (PNG bytes under keys); then `dfmgan pack` of the folder at each size.
Feeds, at 32 and 64 px, for batches of 128 at random indices:
  memory   the packed set held in memory (what a set under a quarter of the memory gets)
  packed   the packed file memory-mapped, warm page cache; and cold (its pages dropped
           with posix_fadvise DONTNEED before the timing)
  folder   the streamed folder: each batch decoded on demand (4 threads)
  lmdb     the LMDB, streamed the same way
Training rows: the `gan` objective at the clip-art presets' widths (G and D width 32,
batch 128) for --steps steps, with prefetch 0 (the batch gathered in the step) and 2 (a
background thread gathers the next batches). Prints one Markdown table."""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch


def make_folder(work: Path, n: int) -> Path:
    """N PNGs rendered from the clip-art set under seeds (made once)."""
    from PIL import Image

    from dfmgan.data import load_dataset

    root = work / "images"
    done = root / ".complete"
    if done.exists():
        return root
    base = load_dataset("clipart", None, "all", 96, 3)  # (M, 3, 96, 96) uint8
    labels = base.labels.numpy()
    rng = np.random.default_rng(0)
    for i in range(n):
        j = int(rng.integers(len(base)))
        img = base.images[j].permute(1, 2, 0).numpy()
        y, x = rng.integers(0, 24, 2)
        crop = img[y:y + 72, x:x + 72]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        shift = rng.integers(-30, 30, 3)
        crop = np.clip(crop.astype(np.int16) + shift, 0, 255).astype(np.uint8)
        side = int(rng.integers(24, 97))
        folder = root / f"c{labels[j]:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(crop)).resize((side, side)).save(folder / f"{i:07d}.png")
    done.write_text("")
    return root


def make_lmdb(work: Path, root: Path) -> Path:
    import lmdb

    out = work / "lmdb"
    if (out / ".complete").exists():
        return out
    files = sorted(root.rglob("*.png"))
    env = lmdb.open(str(out), map_size=sum(p.stat().st_size for p in files) * 2 + (1 << 26))
    with env.begin(write=True) as txn:
        for p in files:
            txn.put(p.stem.encode(), p.read_bytes())
    env.close()
    (out / ".complete").write_text("")
    return out


def feed_rate(source, batches: int = 40, batch: int = 128, seed: int = 0, warm: bool = True) -> float:
    g = torch.Generator().manual_seed(seed)
    idx = [torch.randint(len(source), (batch,), generator=g) for _ in range(batches)]
    if warm:
        for i in idx:  # every page the timing reads, in the page cache first
            source.get(i)
    t0 = time.perf_counter()
    for i in idx:
        source.get(i)
    return batches * batch / (time.perf_counter() - t0)


def disk_rate(path: Path, nbytes: int = 256 << 20) -> float:
    """MiB/s of one sequential read of ``path`` from its end backwards, its pages dropped."""
    drop_cache(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        start = max(0, os.fstat(fd).st_size - nbytes)
        t0 = time.perf_counter()
        got = 0
        while chunk := os.pread(fd, 1 << 24, start + got):
            got += len(chunk)
        return got / 2 ** 20 / (time.perf_counter() - t0)
    finally:
        os.close(fd)


def drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def train_row(data: dict, size: int, steps: int, prefetch: int, work: Path,
              stream: bool = True) -> tuple[float, float]:
    """(training images/s, data wait's share of the step) over the steps after the first 3;
    with ``stream``, the folder streamed and the pack memory-mapped, as a set over the
    memory rule would be; else the pack held in memory."""
    import json
    import shutil

    import dfmgan.data.folder as folder
    import dfmgan.data.packed as packed
    from dfmgan.resolver import resolve
    from dfmgan.training import train

    keep = folder.fits_in_memory, packed.fits_in_memory
    if stream:
        folder.fits_in_memory = packed.fits_in_memory = lambda nbytes, limit=None: False
    out = work / "runs" / f"r{time.time_ns()}"
    try:
        cfg = resolve({"data": data, "size": size, "channels": 3, "g_width": 32, "d_width": 32,
                       "batch_size": 128, "steps": steps, "log_every": 1,
                       "sample_every": 10 ** 6, "checkpoint_every": 10 ** 6,
                       "speed.prefetch": prefetch, "grid": 16})
        train(cfg, out, progress=False)
    finally:
        folder.fits_in_memory, packed.fits_in_memory = keep
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()][3:]
    secs = [b["time/train_s"] - a["time/train_s"] for a, b in zip(rows, rows[1:])]
    step = statistics.median(secs)
    wait = statistics.median(r["time/data_wait"] for r in rows[1:])
    shutil.rmtree(out)
    return 128 / step, wait / step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--n", type=int, default=250_000)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="32,64")
    ap.add_argument("--no-train", action="store_true", help="the feed rows only")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.environ.setdefault("XDG_CACHE_HOME", str(a.work / "cache"))
    import dfmgan.data.packed as packed
    from dfmgan.data import load_dataset
    from dfmgan.tools.pack import pack

    root = make_folder(a.work, a.n)
    db = make_lmdb(a.work, root)
    mb = sum(p.stat().st_size for p in root.rglob("*.png")) / 2 ** 20
    print(f"set: {a.n:,} PNGs, {mb:,.0f} MiB on disk; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__}, {a.threads} threads\n")
    print("| px | feed | feed images/s | training images/s (prefetch 0 / 2) | data wait (0 / 2) |")
    print("|---|---|---|---|---|")
    for size in map(int, a.sizes.split(",")):
        file = a.work / f"set-{size}.dfmpack"
        if not file.exists():
            t0 = time.perf_counter()
            pack(str(root), file, size, 3, progress=False)
            print(f"| {size} | (pack: {a.n / (time.perf_counter() - t0):,.0f} images/s, "
                  f"{file.stat().st_size / 2 ** 20:,.0f} MiB) | | | |")
        memory = load_dataset("packed", file, None, size, 3)
        fits = packed.fits_in_memory
        packed.fits_in_memory = lambda nbytes, limit=None: False
        mapped = load_dataset("packed", file, None, size, 3)
        packed.fits_in_memory = fits
        from dfmgan.data.folder import load_folder
        from dfmgan.data.lsun import load_lsun

        folder = load_folder(root, "train", size, 3, memory_bytes=0)
        lmdb_src = load_lsun(db, "train", size, 3)
        rows = [("memory", memory), ("packed, warm", mapped)]
        for name, src in rows:
            print(f"| {size} | {name} | {feed_rate(src):,.0f} | | |", flush=True)
        del mapped
        drop_cache(file)
        packed.fits_in_memory = lambda nbytes, limit=None: False
        cold = load_dataset("packed", file, None, size, 3)  # a fresh map, its pages dropped
        packed.fits_in_memory = fits
        rate = feed_rate(cold, batches=20, seed=1, warm=False)
        print(f"| {size} | packed, cold (disk: {disk_rate(file):,.0f} MiB/s sequential) | "
              f"{rate:,.0f} | | |", flush=True)
        del cold
        print(f"| {size} | folder (streamed) | {feed_rate(folder, batches=5):,.0f} | | |", flush=True)
        print(f"| {size} | lmdb (streamed) | {feed_rate(lmdb_src, batches=5):,.0f} | | |", flush=True)
        lmdb_src.env.close()  # LMDB opens an environment once per process: training opens it
        if a.no_train:
            continue
        in_memory = {"name": "packed", "root": str(file)}
        got = [train_row(in_memory, size, a.steps, p, a.work, stream=False) for p in (0, 2)]
        print(f"| {size} | train in memory | | {got[0][0]:,.0f} / {got[1][0]:,.0f} | "
              f"{got[0][1]:.0%} / {got[1][1]:.0%} |", flush=True)
        for name, data in [("packed (memory-mapped)", {"name": "packed", "root": str(file)}),
                           ("folder", {"name": "folder", "root": str(root)}),
                           ("lmdb", {"name": "lsun", "root": str(db)})]:
            got = [train_row(data, size, a.steps, p, a.work) for p in (0, 2)]
            print(f"| {size} | train from {name} | | {got[0][0]:,.0f} / {got[1][0]:,.0f} | "
                  f"{got[0][1]:.0%} / {got[1][1]:.0%} |", flush=True)


if __name__ == "__main__":
    main()
