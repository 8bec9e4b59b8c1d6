"""SVHN from the official cropped-digit ``.mat`` files (``train_32x32.mat`` ...).

X is (32, 32, 3, N) and y is (N, 1) with the digit 0 stored as label 10."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import ArraySource, describe
from .registry import register_dataset
from .files import find

SOURCE = "the cropped-digit .mat files (Format 2) from the SVHN page at Stanford"
SPLITS = {"train": ["train"], "test": ["test"], "extra": ["extra"], "train+extra": ["train", "extra"]}


def _read_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import loadmat  # reads MATLAB v5 data; executes nothing

    try:
        mat = loadmat(path)
        x, y = mat["X"], mat["y"].reshape(-1)
    except Exception as e:
        raise DataError(f"cannot read {path}: {e} (truncated or corrupt?)") from None
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise DataError(f"{path}: X must be (32, 32, 3, N) with N labels, got {x.shape}")
    return x.transpose(3, 2, 0, 1), y.astype(np.int64) % 10  # (N, 3, 32, 32); 10 -> 0


@register_dataset("svhn", splits=tuple(SPLITS), preset="svhn", shape=(3, 32, 32),
                  sizes={"train": 73_257, "test": 26_032, "extra": 531_131, "train+extra": 604_388},
                  expects=f"train_32x32.mat, test_32x32.mat, extra_32x32.mat ({SOURCE})")
def load_svhn(root: Path, split: str) -> ArraySource:
    names = [f"{s}_32x32.mat" for s in SPLITS[split]]
    parts = [_read_mat(p) for p in find(root, names, "svhn", SOURCE)]
    x = torch.from_numpy(np.ascontiguousarray(np.concatenate([p[0] for p in parts])))
    y = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    return ArraySource(x.to(torch.uint8), y, describe(f"svhn[{split}] from {root}", len(x),
                                                      x.shape[1:]), [str(i) for i in range(10)])
