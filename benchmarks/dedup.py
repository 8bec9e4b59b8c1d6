"""De-duplication quality and speed (DCGAN §4.1.1), on Fashion-MNIST with planted copies.

    python benchmarks/dedup.py                        # everything below, ~10 min on 2 cores
    python benchmarks/dedup.py --seeds 0 --skip-scale        # quality only, one seed
    python benchmarks/dedup.py --skip-quality                # speed only

* Data: the 60,000 Fashion-MNIST training images, plus ``--per-kind`` copies of each
  kind in ``dfmgan.tools.perturb`` (exact, JPEG q75, ±1 px shift, ±5% brightness,
  N(0, 3 grey levels) noise), each of a different original.
* Truth: a copy belongs with its original; originals that are pixel-identical belong
  together (Fashion-MNIST has none).
* Scores: pair precision and recall of "same group" (every pair inside a group counts),
  and per kind the share of copies grouped with their original.
* False positives, as the paper estimated them: look at the collisions. Every kept /
  dropped pair that the truth does not explain is drawn into ``--fp-sheet``, to be
  judged by eye; the script prints how many there are.
* Speed: hashing rate in memory, from a folder of PNGs (streamed), and over a
  synthetic stream of a million images, with the peak memory of that process.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dfmgan.data import ArraySource, load_dataset, resize_uint8
from dfmgan.data.base import StreamingSource
from dfmgan.imageio import save_grid, save_images
from dfmgan.tools.dedup import DedupSettings, dedup, duplicate_groups, hash_source
from dfmgan.tools.hashes import (bucket_ids, dhash_codes, exact_pixel_codes, group_ids,
                                 pair_scores)
from dfmgan.tools.perturb import KINDS, plant


def truth_ids(p) -> np.ndarray:
    ids = bucket_ids(exact_pixel_codes(p.images[:p.n_original]))
    return np.concatenate([ids, ids[p.source]])


def score(name: str, ids: np.ndarray, truth: np.ndarray, p) -> dict:
    prec, rec, _ = pair_scores(ids, truth)
    n0 = p.n_original
    kind = {k: float(np.mean(ids[n0:][p.kinds == k] == ids[p.source][p.kinds == k])) for k in KINDS}
    dropped = int(len(ids) - len(np.unique(ids)))
    return {"method": name, "precision": prec, "recall": rec, "dropped": dropped, **kind}


def unexplained(ids: np.ndarray, truth: np.ndarray) -> tuple[list[tuple[int, int]], int]:
    """(kept, dropped) pairs the truth does not explain, and all such pairs."""
    pairs = [(int(m[0]), int(j)) for m in duplicate_groups(ids) for j in m[1:]]
    return [(a, b) for a, b in pairs if truth[a] != truth[b]], len(pairs)


def fmt_row(r: dict) -> str:
    kinds = " | ".join(r[k] for k in KINDS)
    return f"| {r['method']} | {r['precision']} | {r['recall']} | {kinds} | {r['dropped']} |"


def mean_std(rows: list[dict]) -> dict:
    out = {"method": rows[0]["method"]}
    for k in ("precision", "recall", "dropped", *KINDS):
        v = np.array([r[k] for r in rows], float)
        f = "{:,.0f}" if k == "dropped" else "{:.3f}"
        out[k] = f.format(v.mean()) + (f" ± {f.format(v.std())}" if len(v) > 1 else "")
    return out


def quality(args) -> None:
    base = load_dataset("fashion-mnist", args.data_root, "train").images  # (60000, 1, 28, 28)
    p = plant(base, args.per_kind, seed=0)
    truth = truth_ids(p)
    print(f"{len(p.images):,} images: {p.n_original:,} originals + {len(p.source):,} planted")
    rows = [[score("exact pixel (BLAKE2b)", bucket_ids(exact_pixel_codes(p.images)), truth, p)]]
    dh = dhash_codes(p.images)
    rows += [[score(f"dHash 64 bit, r={r}", group_ids(dh, r), truth, p)] for r in (0, 2)]
    source = ArraySource(resize_uint8(p.images, 32), None, "planted")
    ae_rows: dict[int, list[dict]] = {r: [] for r in args.radii}
    for seed in args.seeds:
        _, res = dedup(source, DedupSettings(steps=args.steps, seed=seed))
        print(f"seed {seed}: trained in {res.train_seconds:.1f} s, hashed {res.images_per_s:,.0f} images/s")
        for r in args.radii:
            ids = group_ids(res.codes, r)
            ae_rows[r].append(score(f"AE 128 bit, r={r}", ids, truth, p))
            if seed == args.seeds[0] and r == 0:
                false, total = unexplained(ids, truth)
                print(f"r=0, seed {seed}: {total:,} kept/dropped pairs, {len(false)} not explained "
                      f"by the planting; all drawn in {args.fp_sheet}")
                draw_pairs(p.images, false, args.fp_sheet)
    rows += list(ae_rows.values())
    print(f"\n| method | pair precision | pair recall | {' | '.join(KINDS)} | dropped |")
    print("|---|---|---|" + "---|" * len(KINDS) + "---|")
    for group in rows:
        print(fmt_row(mean_std(group)))


def draw_pairs(images: torch.Tensor, pairs: list[tuple[int, int]], path: Path) -> None:
    """Three pairs per row, numbered: pair k is tiles 2k (kept) and 2k + 1 (dropped)."""
    if pairs:
        save_grid(torch.stack([images[i] for ab in pairs for i in ab]), path, nrow=6, scale=4,
                  numbered=True)


class Synthetic(StreamingSource):
    """``n`` procedurally drawn 32×32 RGB images (smooth blobs from the index); every
    1000th repeats the image 500 before it, so the stream holds n/1000 exact copies."""

    def __init__(self, n: int):
        super().__init__(32, 3)
        self.n = n

    def __len__(self) -> int:
        return self.n

    def decode(self, i: int) -> np.ndarray:
        j = i - 500 if i % 1000 == 999 else i
        rng = np.random.default_rng(j)
        small = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
        return np.kron(small, np.ones((8, 8), np.uint8))  # (3, 32, 32)


def scale_row(n: int, steps: int, queue) -> None:
    torch.set_num_threads(1)
    src = Synthetic(n)
    t = time.perf_counter()
    _, res = dedup(src, DedupSettings(steps=steps))
    found = sum(1 for m in res.groups if len(m) == 2 and m[1] - m[0] == 500 and m[1] % 1000 == 999)
    queue.put((res.images_per_s, n / (time.perf_counter() - t),
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, found, len(res.groups)))


def speed(args) -> None:
    base = load_dataset("fashion-mnist", args.data_root, "train").images[:args.folder_n]
    with tempfile.TemporaryDirectory() as tmp:
        save_images(base, Path(tmp))  # 000000.png, 000001.png, ...
        import dfmgan.data.folder as folder
        src = folder.load_folder(Path(tmp), "train", 32, 1, memory_limit=0)  # streamed
        _, rate = hash_source(dedup(ArraySource(resize_uint8(base, 32), None, ""),
                                    DedupSettings(steps=10))[0], src)
    print(f"\nstreamed folder of {len(base):,} PNGs (decode + resize + hash): {rate:,.0f} images/s")
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=scale_row, args=(args.scale_n, args.steps, q))
    proc.start()
    hash_rate, total_rate, rss, found, groups = q.get()
    proc.join()
    print(f"synthetic stream of {args.scale_n:,}: hashing {hash_rate:,.0f} images/s, "
          f"end to end {total_rate:,.0f} images/s, peak RSS {rss:.2f} GiB; "
          f"{found:,} of {args.scale_n // 1000:,} planted copies found, {groups:,} groups")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--per-kind", type=int, default=500)
    ap.add_argument("--steps", type=int, default=DedupSettings().steps)
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    ap.add_argument("--radii", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2, 4])
    ap.add_argument("--fp-sheet", type=Path, default=Path("docs/dedup_unexplained.png"))
    ap.add_argument("--folder-n", type=int, default=10_000)
    ap.add_argument("--scale-n", type=int, default=1_000_000)
    ap.add_argument("--skip-scale", action="store_true", help="no speed rows")
    ap.add_argument("--skip-quality", action="store_true", help="speed rows only")
    args = ap.parse_args()
    if not args.skip_quality:
        quality(args)
    if not args.skip_scale:
        speed(args)


if __name__ == "__main__":
    main()
