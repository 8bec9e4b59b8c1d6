"""STL-10 from the official binary files (``stl10_binary/*.bin``).

Each image is 3x96x96 uint8 stored column-major; labels are 1..10. The default split
is the 100k unlabeled images, downsampled 96 -> 48 as in the DFM paper. Files are
memory-mapped and resized in chunks, so the 2.8 GB split never sits in memory whole."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import ArraySource, describe
from .registry import register_dataset
from .files import find
from .transforms import resize_uint8

CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
SOURCE = "stl10_binary.tar.gz from the STL-10 page at Stanford, extracted"
IMAGE_BYTES = 3 * 96 * 96
FILES = {"unlabeled": ("unlabeled_X.bin", None), "train": ("train_X.bin", "train_y.bin"),
         "test": ("test_X.bin", "test_y.bin")}


def _images(path: Path, size: int | None) -> torch.Tensor:
    n, rest = divmod(path.stat().st_size, IMAGE_BYTES)
    if rest or n == 0:
        raise DataError(f"{path} is {path.stat().st_size} bytes, not a whole number of "
                        f"3x96x96 images (truncated or corrupt)")
    raw = np.memmap(path, dtype=np.uint8, mode="r", shape=(n, 3, 96, 96))
    out = []
    for i in range(0, n, 2048):  # column-major -> (B, 3, H, W), then resize per chunk
        chunk = torch.from_numpy(np.ascontiguousarray(raw[i:i + 2048].transpose(0, 1, 3, 2)))
        out.append(resize_uint8(chunk, size) if size else chunk)
    return torch.cat(out)


# downsampled while read, never holding 96 px copies of 100k images
@register_dataset("stl10", splits=("unlabeled", "train", "test"), takes="size", preset="stl10-48",
                  shape=(3, 96, 96), sizes={"unlabeled": 100_000, "train": 5_000, "test": 8_000},
                  expects=f"stl10_binary/*_X.bin and *_y.bin ({SOURCE})")
def load_stl10(root: Path, split: str, size: int | None = 48) -> ArraySource:
    size = size or 48  # the DFM paper's STL-10 resolution
    x_name, y_name = FILES[split]
    paths = find(root, [x_name] + ([y_name] if y_name else []), "stl10", SOURCE)
    x = _images(paths[0], size)
    y = None
    if y_name:
        y = np.fromfile(paths[1], dtype=np.uint8).astype(np.int64) - 1
        if len(y) != len(x) or y.min() < 0 or y.max() > 9:
            raise DataError(f"{paths[1]}: {len(y)} labels in 1..10 expected for {len(x)} images")
        y = torch.from_numpy(y)
    return ArraySource(x, y, describe(f"stl10[{split}] from {paths[0].parent}", len(x),
                                      x.shape[1:]), CLASSES)
