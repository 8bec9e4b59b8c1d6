"""One entry point for every dataset: ``load_dataset(name, root, ...)``.

Every loader returns uint8 (N, C, H, W) images (plus labels where the format has
them) at the requested size and channel count; ``to_float`` maps a batch to [-1, 1].
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from ..errors import DataError
from .base import ArraySource, StreamingSource, describe, draw
from .batches import BatchSampler
from .transforms import match_channels, resize_uint8, to_float, to_uint8


@dataclass(frozen=True)
class DatasetInfo:
    load: Callable  # (root, split, [size, channels]) -> source
    default_root: str | None
    splits: tuple[str, ...]
    expects: str = ""  # what --data-root must hold, and where it comes from
    streams: bool = False  # folder/lsun decode at the target size themselves
    sized: bool = False  # the loader takes (root, split, size, channels) itself
    needs_root: bool = True  # False: the data ships with a package (no --data-root)
    metrics: tuple[str, ...] = ()  # what `eval` and evaluation in training score by default
    preset: str | None = None  # the preset a run naming this data without one gets
    feature_net: str | None = None  # the bundled feature network that matches it


def _registry() -> dict[str, DatasetInfo]:
    from . import cifar, idx, lsun, stl10, svhn
    from .digits import load_digits
    from .folder import load_folder
    from .stacked import SMALL, load_stacked

    idx_files = "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-*.gz"
    stacked = partial(DatasetInfo, splits=("train", "test"), sized=True, metrics=("modes",))
    return {
        "digits": DatasetInfo(load_digits, None, ("train", "test", "all"), needs_root=False,
                              preset="digits", feature_net="digits"),
        "mnist": DatasetInfo(partial(idx.load_idx, name="mnist"), None, ("train", "test"),
                             f"{idx_files} ({idx.SOURCES['mnist']})", preset="mnist"),
        "fashion-mnist": DatasetInfo(partial(idx.load_idx, name="fashion-mnist"),
                                     "/usr/share/datasets/fashion-mnist", ("train", "test"),
                                     f"{idx_files} ({idx.SOURCES['fashion-mnist']})",
                                     preset="fashion-mnist", feature_net="fashion-mnist"),
        "cifar10": DatasetInfo(cifar.load_cifar10, None, ("train", "test"),
                               f"cifar-10-python.tar.gz or cifar-10-batches-py/ ({cifar.SOURCE})",
                               preset="cifar10"),
        "stl10": DatasetInfo(stl10.load_stl10, None, ("unlabeled", "train", "test"),
                             f"stl10_binary/*_X.bin and *_y.bin ({stl10.SOURCE})", preset="stl10-48"),
        "svhn": DatasetInfo(svhn.load_svhn, None, tuple(svhn.SPLITS),
                            f"train_32x32.mat, test_32x32.mat, extra_32x32.mat ({svhn.SOURCE})",
                            preset="svhn"),
        "folder": DatasetInfo(load_folder, None, ("train",),
                              "a folder tree of .png/.jpg/.jpeg/.webp images", streams=True),
        "lsun": DatasetInfo(lsun.load_lsun, None, ("train",), lsun.SOURCE, streams=True,
                            preset="lsun-bedroom-64"),
        # 1,000-mode stacked sets (data/stacked.py): three base images in R, G and B
        "stacked-mnist": stacked(partial(load_stacked, base="mnist"), None,
                                 expects=f"the MNIST {idx_files} ({idx.SOURCES['mnist']})",
                                 preset="stacked-mnist"),
        "stacked-fashion-mnist": stacked(partial(load_stacked, base="fashion-mnist"),
                                         "/usr/share/datasets/fashion-mnist",
                                         expects=f"{idx_files} ({idx.SOURCES['fashion-mnist']})",
                                         preset="stacked-fashion-mnist"),
        "stacked-digits": stacked(partial(load_stacked, base="digits", sizes=SMALL), None,
                                  needs_root=False, preset="stacked-digits"),
    }


DATASETS = tuple(_registry())


def dataset_info(name: str) -> DatasetInfo:
    registry = _registry()
    if name not in registry:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(registry)}")
    return registry[name]


def facts(name: str | None) -> DatasetInfo | None:
    """What a dataset declares about itself (None for a name that is no dataset)."""
    return _registry().get(name or "")


def default_metrics(name: str | None) -> tuple[str, ...]:
    """The metrics a dataset is scored with unless told otherwise (FID and friends when
    it names none)."""
    info = facts(name)
    return info.metrics if info is not None else ()


def resolve_root(name: str, root: str | os.PathLike | None, info: DatasetInfo) -> Path | None:
    if not info.needs_root:
        return None
    if root is None:
        root = info.default_root or os.environ.get(f"DFMGAN_{name.upper().replace('-', '_')}_ROOT")
    if root is None:
        raise DataError(f"{name}: no data root given; pass --data-root with {info.expects}")
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(f"{name}: data root {path} does not exist; it should hold {info.expects}")
    return path


def load_dataset(name: str, root=None, split: str | None = None, size: int | None = None,
                 channels: int | None = None) -> ArraySource | StreamingSource:
    """Load ``name`` from ``root`` as uint8 images at ``size`` px and ``channels``.

    size/channels default to the data's own (folder/lsun: 64 px RGB)."""
    info = dataset_info(name)
    split = split or info.splits[0]
    if split not in info.splits:
        raise DataError(f"{name} has no split {split!r}; choose one of {', '.join(info.splits)}")
    path = resolve_root(name, root, info)
    if info.streams:
        return info.load(path, split, size or 64, channels or 3)
    if info.sized:
        return info.load(path, split, size, channels)
    if name == "stl10":  # downsample while reading, never holding 96 px copies of 100k images
        source = info.load(path, split, size=size or 48)
    else:
        source = info.load(path, split)
    return _fit(source, size, channels)


def _fit(source: ArraySource, size: int | None, channels: int | None) -> ArraySource:
    x = source.images
    if channels is not None:
        x = match_channels(x, channels)
    if size is not None:
        x = resize_uint8(x, size)
    if x is source.images:
        return source
    note = f" -> {x.shape[1]}x{x.shape[2]}x{x.shape[3]}"
    return ArraySource(x, source.labels, source.description + note, source.classes)


__all__ = ["ArraySource", "BatchSampler", "DATASETS", "StreamingSource", "dataset_info",
           "default_metrics", "describe", "facts", "draw", "load_dataset", "match_channels", "resize_uint8", "to_float", "to_uint8"]
