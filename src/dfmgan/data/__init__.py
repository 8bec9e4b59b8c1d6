"""One entry point for every dataset: ``load_dataset(name, root, ...)``.

Every loader returns uint8 (N, C, H, W) images (plus labels where the format has
them) at the requested size and channel count; ``to_float`` maps a batch to [-1, 1].
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..discovery import discover
from ..errors import DataError
from ..models.netconfig import DEFAULT_CHANNELS, DEFAULT_SIZE
from .base import ArraySource, StreamingSource, describe, draw, draw_labelled
from .batches import BatchSampler
from .download import REMOTES, cache_dir
from .images import FITS, ImageOptions
from .registry import DATASETS, DatasetInfo, register_dataset
from .transforms import match_channels, resize_uint8, to_float, to_uint8


discover(__name__)  # every loader: each module of this package registers its datasets


def dataset_info(name: str) -> DatasetInfo:
    if not isinstance(name, str) or name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def facts(name: str | None) -> DatasetInfo | None:
    """What a dataset declares about itself (None for a name that is no dataset)."""
    return DATASETS.get(name) if isinstance(name, str) else None


def default_metrics(name: str | None) -> tuple[str, ...]:
    """The metrics a dataset is scored with unless told otherwise (FID and friends when
    it names none)."""
    info = facts(name)
    return info.metrics if info is not None else ()


def downloadable(name: str) -> bool:
    return name.removeprefix("stacked-") in REMOTES


PACKED_SUFFIX = ".dfmpack"  # a file made by `dfmgan pack`, recognised wherever data is named


def dataset_or_folder(data: str, root: str | None) -> tuple[str, str | None]:
    """A dataset name, or the path of a folder of images (then read by the folder loader),
    or of a packed set (``NAME.dfmpack``, read by the packed loader)."""
    if data not in DATASETS and str(data).endswith(PACKED_SUFFIX):
        return "packed", data
    if data not in DATASETS and Path(data).is_dir():
        return "folder", data
    return data, root


def resolve_root(name: str, root: str | os.PathLike | None, info: DatasetInfo) -> Path | None:
    if not info.needs_root:
        return None
    if root is None:
        root = info.default_root or os.environ.get(f"DFMGAN_{name.upper().replace('-', '_')}_ROOT")
    if root is None and downloadable(name) and (cached := cache_dir(name)).is_dir():
        root = cached  # fetched earlier by --download
    if root is None:
        fetch = " (or add --download to fetch it)" if downloadable(name) else ""
        raise DataError(f"{name}: no data root given; pass --data-root with {info.expects}{fetch}")
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(f"{name}: data root {path} does not exist; it should hold {info.expects}")
    return path


def load_dataset(name: str, root=None, split: str | None = None, size: int | None = None,
                 channels: int | None = None, image: ImageOptions | None = None
                 ) -> ArraySource | StreamingSource:
    """Load ``name`` from ``root`` as uint8 images at ``size`` px and ``channels``.

    size/channels default to the data's own (folder/lsun: ``NetConfig``'s 64 px RGB). ``image``: how image
    files are decoded (fit, background, skip_bad), for the sets that read files; its
    ``fit`` "" is the dataset's own. ``name`` may be a path: a packed set's file or a folder
    of images (``dataset_or_folder``)."""
    name, root = dataset_or_folder(name, root) if name not in DATASETS else (name, root)
    info = dataset_info(name)
    split = split or info.splits[0]
    if split not in info.splits:
        raise DataError(f"{name} has no split {split!r}; choose one of {', '.join(info.splits)}")
    path = resolve_root(name, root, info)
    kw = {"image": image_options(info, image)} if info.decodes else {}
    if info.streams:  # decoded at the target size batch by batch (folder, lsun: 64 px RGB)
        return info.load(path, split, size or DEFAULT_SIZE, channels or DEFAULT_CHANNELS, **kw)
    if info.takes == "size,channels":
        return info.load(path, split, size, channels, **kw)
    source = info.load(path, split, size) if info.takes == "size" else info.load(path, split)
    return _fit(source, size, channels)


def image_options(info: DatasetInfo, image: ImageOptions | None) -> ImageOptions:
    """``image`` with its fit resolved: "" (or no options at all) is the dataset's own."""
    image = image or ImageOptions()
    return image if image.fit else replace(image, fit=info.fit)


def options_of(data_cfg) -> ImageOptions:
    """A run's ``data`` settings (fit, background, skip_bad) as the loaders take them."""
    return ImageOptions(data_cfg.fit, data_cfg.background, data_cfg.skip_bad)


def _fit(source: ArraySource, size: int | None, channels: int | None) -> ArraySource:
    x = source.images
    if channels is not None:
        x = match_channels(x, channels)
    if size is not None:
        x = resize_uint8(x, size)
    if x is source.images:
        return source
    note = f" -> {x.shape[1]}x{x.shape[2]}x{x.shape[3]}"
    return replace(source, images=x, description=source.description + note)


__all__ = ["FITS", "PACKED_SUFFIX", "ImageOptions", "image_options", "options_of", "ArraySource", "BatchSampler", "DATASETS", "DatasetInfo", "StreamingSource", "dataset_info", "dataset_or_folder", "downloadable", "register_dataset",
           "default_metrics", "describe", "facts", "draw", "draw_labelled", "load_dataset", "match_channels", "resize_uint8", "to_float", "to_uint8"]
