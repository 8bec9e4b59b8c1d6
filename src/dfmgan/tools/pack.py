"""``dfmgan pack``: decode a data set once, at training resolution, into one packed file
(``data/packed.py``) that training, eval, reference, probe, dedup and studies read at
memory speed.

The images are decoded in chunks of ``CHUNK``: a folder's files by a pool of worker
processes (PIL releases the GIL only in part, so threads do not scale), any other loader's
by the loader itself. Each chunk is written atomically into ``OUT.partial/`` as it
finishes, so a killed pack resumes where it stopped, and the finished file is the same
bytes whether or not it was interrupted. Unreadable files are named in one line after the
whole pass; ``--skip-bad`` leaves them out."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from io import BytesIO
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data import dataset_info, dataset_or_folder, image_options, load_dataset
from ..data.folder import folder_labels, list_images
from ..data.images import BadImage, ImageOptions, bad_files_message, open_and_convert
from ..data.packed import SUFFIX, header_bytes
from ..errors import ConfigError, DataError
from ..files import atomic_write, writable_file
from ..outputs import shown
from ..reading import parse_json

CHUNK = 4096  # images per chunk: the unit of work, of progress and of resume
VERSION = 1


def die_with_parent() -> None:
    """In each worker process: the kernel kills it when the pack that started it dies (a
    SIGKILLed pack left its workers blocked forever). Linux only; elsewhere a no-op."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def decode_chunk(paths: list[str], size: int, channels: int, opts: dict):
    """In a worker process: (images (k, C, S, S) uint8, kept indices, bad, file digests)."""
    from PIL import Image

    options, arrays, keep, bad, digests = ImageOptions(**opts), [], [], [], []
    for i, p in enumerate(paths):
        try:
            data = Path(p).read_bytes()
        except OSError as e:
            bad.append(f"{shown(Path(p))} ({e.strerror or e})")
            digests.append("")
            continue
        digests.append(hashlib.sha256(data).hexdigest())
        try:
            arrays.append(open_and_convert(lambda: Image.open(BytesIO(data)), size, channels, options))
            keep.append(i)
        except BadImage as e:
            bad.append(f"{shown(Path(p))} ({e})")
    empty = np.zeros((0, channels, size, size), np.uint8)
    return (np.stack(arrays) if arrays else empty), keep, bad, digests


class Plan:
    """What is packed: a folder's file list, or a loaded source, and how it is decoded."""

    def __init__(self, data: str, root, split, size: int, channels: int, opts: ImageOptions,
                 chunk: int = CHUNK):
        data, root = dataset_or_folder(data, root)
        self.step = chunk
        info = dataset_info(data)
        self.size, self.channels = size, channels
        self.opts = image_options(info, opts) if info.decodes else opts
        self.files = self.source = None
        if data == "folder":
            if root is None:
                raise DataError("pack: give the folder (SOURCE) or --data-root")
            self.root = Path(root)
            self.files = list_images(self.root)
            self.n = len(self.files)
        else:
            self.root = root
            self.source = load_dataset(data, root, split, size, channels,
                                       self.opts if info.decodes else None)
            self.n = len(self.source)
        self.decode = {"source": data, "root": None if root is None else str(Path(root).resolve()),
                       "split": split or info.splits[0], "size": size, "channels": channels,
                       **({"fit": self.opts.fit, "background": self.opts.background,
                           "skip_bad": self.opts.skip_bad} if info.decodes else {})}

    def key(self) -> str:
        """What the partial chunks depend on (not skip_bad: a rerun with it reuses them)."""
        names = [str(p) for p in self.files] if self.files is not None else [self.source.description]
        what = {k: v for k, v in self.decode.items() if k != "skip_bad"}
        return hashlib.sha256(json.dumps([what, names, self.step, VERSION]).encode()).hexdigest()

    def chunk(self, c: int, pool):
        """A future of chunk ``c``: a folder's in a worker process; another loader's is
        decoded here when its result is asked for (its own threads decode)."""
        lo, hi = c * self.step, min((c + 1) * self.step, self.n)
        if self.files is not None:
            return pool.submit(decode_chunk, [str(p) for p in self.files[lo:hi]], self.size,
                               self.channels, asdict(self.opts))
        return Later(self.source, lo, hi)


class Later:
    """A loader's chunk, decoded when ``result`` is called (a future's face)."""

    def __init__(self, source, lo: int, hi: int):
        self.source, self.lo, self.hi = source, lo, hi

    def result(self):
        import torch

        images, _ = self.source.get(torch.arange(self.lo, self.hi))
        return images.cpu().numpy(), list(range(self.hi - self.lo)), [], []


def pack(data: str, out: Path, size: int, channels: int, root=None, split=None,
         opts: ImageOptions = ImageOptions(), workers: int | None = None,
         progress: bool = True, chunk: int = CHUNK) -> dict:
    """Pack ``data`` into ``out`` (a new ``.dfmpack`` file); returns its manifest.
    ``chunk``: images per chunk, the unit of work and of resume (the file is the same
    bytes whatever it is)."""
    out = Path(out)
    if out.suffix != SUFFIX:
        raise ConfigError(f"--out {shown(out)}: a packed set's name ends in {SUFFIX}")
    writable_file(out)
    if out.exists():
        raise ConfigError(f"{shown(out)} exists; remove it or choose another --out")
    plan = Plan(data, root, split, size, channels, opts, chunk)
    partial = out.with_name(out.name + ".partial")
    start_partial(partial, plan.key())
    chunks = -(-plan.n // chunk)
    todo = [c for c in range(chunks) if not (partial / f"{c:06d}.json").is_file()]
    size_of = lambda c: min(chunk, plan.n - c * chunk)  # noqa: E731
    bar = tqdm(total=plan.n, desc=f"packing {shown(out)}", unit="img", disable=not progress,
               initial=plan.n - sum(map(size_of, todo)))
    workers = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(workers, initializer=die_with_parent) as pool:
        window = {}  # at most 2 chunks a worker in flight: memory stays bounded
        for i, c in enumerate(todo):
            for ahead in todo[i:i + 2 * workers]:
                if ahead not in window:
                    window[ahead] = plan.chunk(ahead, pool)
            images, keep, bad, digests = window.pop(c).result()
            np.save(partial / f"{c:06d}.npy", images, allow_pickle=False)
            atomic_write(partial / f"{c:06d}.json", json.dumps(
                {"keep": keep, "bad": bad, "digests": digests}).encode())
            bar.update(size_of(c))
    bar.close()
    manifest = assemble(plan, partial, chunks, out)
    shutil.rmtree(partial)
    return manifest


def start_partial(partial: Path, key: str) -> None:
    """``OUT.partial/``: a killed pack's chunks, reused only for the same plan."""
    plan_file = partial / "plan.json"
    if partial.exists():
        try:
            same = parse_json(plan_file.read_text()).get("key") == key
        except (OSError, ValueError, AttributeError):
            same = False
        if not same:
            raise ConfigError(f"{shown(partial)} holds a pack of another source or settings; "
                              "remove it to start again")
        return
    partial.mkdir(parents=True)
    atomic_write(plan_file, json.dumps({"key": key}).encode())


def assemble(plan: Plan, partial: Path, chunks: int, out: Path) -> dict:
    """The chunks, checked and joined into ``out`` (atomically); its manifest."""
    metas = [parse_json((partial / f"{c:06d}.json").read_text()) for c in range(chunks)]
    bad = [b for m in metas for b in m["bad"]]
    what = f"{plan.decode['source']} {plan.root or ''}".strip()
    if bad and not plan.opts.skip_bad:
        raise DataError(bad_files_message(bad, what), flag="--skip-bad", fix="leaves them out")
    if bad:
        print(f"dfmgan: skipped {len(bad)} unreadable file{'s' * (len(bad) > 1)} of {what}",
              file=sys.stderr)
    kept = [c * plan.step + i for c, m in enumerate(metas) for i in m["keep"]]
    if not kept:
        raise DataError(f"{what}: none of its {plan.n:,} images could be decoded")
    labels, classes, names, sources = described(plan, kept, metas)
    h = hashlib.sha256()
    for c in range(chunks):
        h.update(np.load(partial / f"{c:06d}.npy", mmap_mode="r").tobytes())
    if labels is not None:
        h.update(labels.astype("<i8").tobytes())
    manifest = {"format": "dfmgan-pack", "version": VERSION, "n": len(kept),
                "channels": plan.channels, "size": plan.size, "labels": labels is not None,
                "classes": classes, "names": names, "decode": plan.decode,
                "sources_sha256": sources, "skipped": bad, "data_sha256": h.hexdigest()}
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(header_bytes(manifest))
        for c in range(chunks):
            f.write(np.load(partial / f"{c:06d}.npy", mmap_mode="r").tobytes())
        if labels is not None:
            f.write(labels.astype("<i8").tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    return manifest


def described(plan: Plan, kept: list[int], metas: list[dict]):
    """(labels, class names, item names, the source files' digest) of the kept images."""
    if plan.files is not None:
        files = [plan.files[i] for i in kept]
        labels, classes = folder_labels(plan.root, files)
        names = [str(p.relative_to(plan.root)) for p in files]
        digests = [d for m in metas for d in m["digests"]]
        lines = "".join(f"{p.relative_to(plan.root)}\t{d}\n" for p, d in zip(plan.files, digests))
        return (None if labels is None else labels.numpy()), classes, names, \
            hashlib.sha256(lines.encode()).hexdigest()
    src = plan.source
    labels = None if src.labels is None else src.labels.numpy()
    files = getattr(src, "files", None)
    sources = None
    if files:
        h = hashlib.sha256()
        for p in files:
            h.update(f"{Path(p).name}\t{hashlib.sha256(Path(p).read_bytes()).hexdigest()}\n".encode())
        sources = h.hexdigest()
    return labels, src.classes, src.names, sources
