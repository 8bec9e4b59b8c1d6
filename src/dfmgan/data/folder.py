"""Any tree of PNG, JPEG, GIF or WebP files, e.g. a downsampled ImageNet or a face set.

Each file goes through ``images.py``: transparency onto the background, EXIF
orientation, the first frame of an animation, then ``fit`` (``crop``: shorter side to
``size`` and a centre crop, the ImageNet 32 px preprocessing; ``pad``: letterboxed).
Files directly under one subfolder each are labelled by that subfolder. A tree whose
decoded images fit a quarter of the memory available (``base.fits_in_memory``) is decoded
once into memory, in one pass that names every unreadable file; a larger tree streams,
decoding only the images each batch asks for (its files' headers are checked in one pass
first). `dfmgan pack` decodes either once into a file read at memory speed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..errors import DataError
from .base import ArraySource, StreamingSource, describe, fits_in_memory
from ..outputs import shown
from .images import ImageOptions, bad_files_message, decode_all, decode_path, header_problem
from .registry import register_dataset

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif"}


def list_images(root: Path) -> list[Path]:
    if not root.is_dir():
        raise DataError(f"folder: {shown(root)} is not a directory of PNG, JPEG, GIF or WebP images")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"folder: no .png, .jpg, .jpeg, .gif or .webp files under {shown(root)}")
    return files


def folder_labels(root: Path, files: list[Path]) -> tuple[torch.Tensor | None, list[str] | None]:
    """Class per first-level subfolder when every file sits in one and there are >= 2."""
    parts = [p.relative_to(root).parts for p in files]
    if any(len(q) < 2 for q in parts):
        return None, None
    classes = sorted({q[0] for q in parts})
    if len(classes) < 2:
        return None, None
    index = {c: i for i, c in enumerate(classes)}
    return torch.tensor([index[q[0]] for q in parts]), classes


class FolderStream(StreamingSource):
    def __init__(self, files: list[Path], size: int, channels: int, opts: ImageOptions):
        super().__init__(size, channels)
        self.files, self.opts = files, opts  # (N,) paths, decoded on demand

    def __len__(self) -> int:
        return len(self.files)

    def decode(self, i: int) -> np.ndarray:
        return decode_path(self.files[i], self.size, self.channels, self.opts)


def bar(desc: str):
    """A progress bar over a decoding pass (shown from 2,000 files on)."""
    return lambda it, n: tqdm(it, total=n, desc=desc, unit="img", leave=False,
                              disable=n < 2000)


def check_headers(files: list[Path], opts: ImageOptions, what: str) -> list[int]:
    """A streamed tree's files, each opened once without decoding its pixels: the indices
    that can be read (all of them, or an error naming every other one without skip_bad)."""
    bad, keep = [], []
    for i, path in enumerate(files):
        problem = header_problem(path)
        if problem is None:
            keep.append(i)
        else:
            bad.append(f"{shown(path)} ({problem[1]})")
    if bad and not opts.skip_bad:
        raise DataError(bad_files_message(bad, what), flag="--skip-bad", fix="leaves them out")
    return keep


@register_dataset("folder", splits=("train",), takes="size,channels", streams=True, decodes=True,
                  expects="a folder tree of .png/.jpg/.jpeg/.gif/.webp images")
def load_folder(root: Path, split: str, size: int, channels: int,
                image: ImageOptions = ImageOptions(),
                memory_bytes: int | None = None) -> ArraySource | FolderStream:
    """``memory_bytes``: the budget for holding the decoded set (default: a share of the
    memory available, ``base.fits_in_memory``); over it, the tree streams."""
    files = list_images(root)
    what = f"folder {shown(root)}"
    if not fits_in_memory(len(files) * channels * size * size, memory_bytes):
        files = [files[i] for i in check_headers(files, image, what)]
        labels, classes = folder_labels(root, files)  # of the files kept
        stream = FolderStream(files, size, channels, image)
        stream.labels, stream.classes = labels, classes
        stream.names = [str(p.relative_to(root)) for p in files]
        stream.description = describe(f"{what} (streamed)", len(files), stream.shape)
        return stream
    # Small enough: decode every file once, in parallel, into one uint8 tensor.
    pool = StreamingSource(size, channels)._pool
    arrays, keep = decode_all(files, size, channels, image, what, pool, bar(f"decoding {root.name}"))
    files = [files[i] for i in keep]
    labels, classes = folder_labels(root, files)  # of the files kept
    x = torch.from_numpy(arrays)
    return ArraySource(x, labels, describe(what, len(x), x.shape[1:]), classes,
                       names=[str(p.relative_to(root)) for p in files], files=files)
