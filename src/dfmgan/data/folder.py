"""Any tree of PNG, JPEG or WebP files, e.g. a downsampled ImageNet or a face set.

Each image's shorter side is resized to ``size`` and centre-cropped (the ImageNet
32 px preprocessing). Files directly under one subfolder each are labelled by that
subfolder. Up to ``MEMORY_LIMIT`` images are decoded once into memory; a larger tree
streams, decoding only the images each batch asks for."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from ..errors import DataError
from .base import ArraySource, StreamingSource, describe
from .registry import register_dataset
from .transforms import center_crop_resize

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
MEMORY_LIMIT = 200_000


def list_images(root: Path) -> list[Path]:
    if not root.is_dir():
        raise DataError(f"folder: {root} is not a directory of PNG, JPEG or WebP images")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"folder: no .png, .jpg, .jpeg or .webp files under {root}")
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


def decode_file(path: Path, size: int, channels: int) -> np.ndarray:
    try:
        with Image.open(path) as img:
            return center_crop_resize(img, size, channels)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"cannot decode {path}: {e}") from None


class FolderStream(StreamingSource):
    def __init__(self, files: list[Path], size: int, channels: int):
        super().__init__(size, channels)
        self.files = files  # (N,) paths, decoded on demand

    def __len__(self) -> int:
        return len(self.files)

    def decode(self, i: int) -> np.ndarray:
        return decode_file(self.files[i], self.size, self.channels)


@register_dataset("folder", splits=("train",), takes="size,channels", streams=True,
                  expects="a folder tree of .png/.jpg/.jpeg/.webp images")
def load_folder(root: Path, split: str, size: int, channels: int,
                memory_limit: int = MEMORY_LIMIT) -> ArraySource | FolderStream:
    files = list_images(root)
    labels, classes = folder_labels(root, files)
    stream = FolderStream(files, size, channels)
    stream.labels, stream.classes = labels, classes
    stream.names = [str(p.relative_to(root)) for p in files]
    if len(files) > memory_limit:
        stream.description = describe(f"folder {root} (streamed)", len(files), stream.shape)
        return stream
    # Small enough: decode every file once, in parallel, into one uint8 tensor.
    arrays = list(tqdm(stream._pool.map(stream.decode, range(len(files))), total=len(files),
                       desc=f"decoding {root.name}", unit="img", leave=False,
                       disable=len(files) < 2000))
    x = torch.from_numpy(np.stack(arrays))
    return ArraySource(x, labels, describe(f"folder {root}", len(x), x.shape[1:]), classes,
                       names=stream.names, files=files)
