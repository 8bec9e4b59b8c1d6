"""Datasets by name: each loader module registers its data with the facts the rest of the
package asks about (where the files come from, its splits, its preset, its bundled
feature net, its default metrics, its stored shape and split sizes). A new dataset is one module with ``register_dataset``;
``dfmgan.data`` imports every module that calls it, and no code outside ``data/`` asks
for a dataset by name."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# MNIST's file names, the one home for the loader (idx.py), --download and the messages:
# each split's images and labels, as published (gzipped)
IDX_PREFIX = {"train": "train", "test": "t10k"}


def idx_names(split: str, suffix: str = ".gz") -> tuple[str, str]:
    """(images, labels) file names of an IDX split."""
    p = IDX_PREFIX[split]
    return f"{p}-images-idx3-ubyte{suffix}", f"{p}-labels-idx1-ubyte{suffix}"


IDX = (*idx_names("train"), *idx_names("test"))
IDX_FILES = f"{', '.join(idx_names('train'))}, {IDX_PREFIX['test']}-*.gz"


@dataclass(frozen=True)
class DatasetInfo:
    load: Callable  # (root, split[, size][, channels]) -> source, as ``takes`` says
    splits: tuple[str, ...]
    default_root: str | None = None
    expects: str = ""  # what --data-root must hold, and where it comes from
    takes: str = ""  # "": (root, split); "size": + size; "size,channels": + size, channels
    streams: bool = False  # decoded batch by batch at the target size (folder, lsun)
    needs_root: bool = True  # False: the data ships with a package (no --data-root)
    metrics: tuple[str, ...] = ()  # what `eval` and evaluation in training score by default
    preset: str | None = None  # the preset a run naming this data without one gets
    feature_net: str | None = None  # the bundled feature network that matches it
    decodes: bool = False  # reads image files: takes ``image=ImageOptions`` (images.py)
    fit: str = "crop"  # how its images are brought to size unless data.fit says (crop, pad)
    shape: tuple[int, int, int] | None = None  # (C, H, W) as stored; None: any (image files)
    sizes: dict | None = None  # images per split, as published (None: whatever the files hold)
    # (root, size, channels) -> None, or a DataError: what can be known of the files before
    # they are loaded (a packed set's size and channels), checked by the resolver
    check: Callable | None = None
    # root -> (size, channels) the files hold, for data stored at one resolution (a packed
    # set): the resolver trains at it unless told otherwise
    shape_of: Callable | None = None

    def size_of(self, split: str) -> int | None:
        return (self.sizes or {}).get(split)


DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(name: str, **facts) -> Callable[[Callable], Callable]:
    """``register_dataset("cifar10", splits=(...), ...)(load)`` or as a decorator."""
    def wrap(load: Callable) -> Callable:
        DATASETS[name] = DatasetInfo(load, **facts)
        return load
    return wrap
