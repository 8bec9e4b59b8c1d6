"""MNIST and Fashion-MNIST in the IDX format (``train-images-idx3-ubyte.gz`` ...).

IDX: two zero bytes, a type code (0x08 = uint8), the number of dimensions, each
dimension as a big-endian int32, then the data."""
from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import ArraySource, describe
from .files import find, read_maybe_gz
from .registry import IDX_FILES, idx_names, register_dataset

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SOURCES = {"mnist": "the MNIST IDX files from Yann LeCun's site",
           "fashion-mnist": "the IDX files of zalandoresearch/fashion-mnist, "
                            "or Debian's dataset-fashion-mnist package"}


def parse_idx(raw: bytes, path: Path) -> np.ndarray:
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] != 0x08:
        raise DataError(f"{path} is not a uint8 IDX file (bad magic number)")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        raise DataError(f"{path} holds {len(body)} bytes of data, its header says "
                        f"{int(np.prod(dims))} (truncated or corrupt)")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _files(root: Path, split: str, name: str) -> list[Path]:
    for suffix in (".gz", ""):
        try:
            return find(root, list(idx_names(split, suffix)), name, SOURCES[name])
        except DataError:
            continue
    return find(root, list(idx_names(split)), name, SOURCES[name])  # raises


def load_idx(root: Path, split: str, name: str) -> ArraySource:
    img_path, lab_path = _files(root, split, name)
    images = parse_idx(read_maybe_gz(img_path), img_path)
    labels = parse_idx(read_maybe_gz(lab_path), lab_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{img_path}: {images.shape} images do not match {labels.shape} labels")
    x = torch.from_numpy(images.copy())[:, None]  # (N, 1, 28, 28)
    classes = FASHION_CLASSES if name == "fashion-mnist" else [str(i) for i in range(10)]
    return ArraySource(x, torch.from_numpy(labels.astype(np.int64)),
                       describe(f"{name}[{split}] from {img_path.parent}", len(x), x.shape[1:]),
                       classes)


for _name, _facts in (("mnist", {"preset": "mnist"}),
                      ("fashion-mnist", {"preset": "fashion-mnist", "feature_net": "fashion-mnist",
                                         "default_root": "/usr/share/datasets/fashion-mnist"})):
    register_dataset(_name, splits=("train", "test"), expects=f"{IDX_FILES} ({SOURCES[_name]})",
                     shape=(1, 28, 28), sizes={"train": 60_000, "test": 10_000}, **_facts)(partial(load_idx, name=_name))
