"""Stacked data: the 1,000-mode benchmark of mode collapse (Metz et al. 2017, *Unrolled
GANs* §3.3.1; Srivastava et al. 2017, *VEEGAN*; Lin et al. 2018, *PacGAN* §5).

Each image holds three independently drawn grey images of a 10-class base set in its R, G
and B channels. Its mode is the triple of their classes, ``100·a + 10·b + c``: 1,000 modes.

The protocol is PacGAN's (its VEEGAN experiment, ``stacked_MNIST_experiments`` of the
authors' code): 128,000 training images, and 26,000 generated samples scored. The test
split stacks the base set's test images, 26,000 of them, as a real-data reference. Every
set is a pure function of (base set, split, seed): the seed is fixed per split (train 0,
test 1), so every run, metric and machine sees the same images. ``stacked-digits`` (the
bundled 8×8 digits) is small, for fast tests: 10,000 and 2,600 images.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch

from ..errors import DataError
from .base import ArraySource, describe
from .registry import IDX_FILES, register_dataset

SIZES = {"train": 128_000, "test": 26_000}
SMALL = {"train": 10_000, "test": 2_600}  # stacked-digits: 1,437 / 360 base images
SEEDS = {"train": 0, "test": 1}
MODES = 1000


@dataclass
class StackedSource(ArraySource):
    """An ``ArraySource`` that remembers which base images each stacked image holds."""

    members: torch.Tensor | None = None  # (N, 3) base-set indices for R, G, B
    base_labels: torch.Tensor | None = None  # (N, 3) their classes


def mode_of(triples: torch.Tensor) -> torch.Tensor:
    """(N, 3) classes in 0..9 -> (N,) mode index 100·a + 10·b + c."""
    return triples[:, 0] * 100 + triples[:, 1] * 10 + triples[:, 2]


def stack(base: ArraySource, n: int, seed: int, name: str) -> StackedSource:
    """``n`` images whose channels are base images drawn independently with ``seed``."""
    if base.labels is None or base.images.shape[1] != 1:
        raise DataError(f"{name}: the base set must be grey and labelled")
    if int(base.labels.max()) > 9:
        raise DataError(f"{name}: the base set has more than 10 classes")
    g = torch.Generator().manual_seed(seed)
    members = torch.randint(len(base), (n, 3), generator=g)  # (N, 3), with replacement
    images = base.images[:, 0][members]  # (M, H, W)[(N, 3)] -> (N, 3, H, W)
    triples = base.labels[members]  # (N, 3)
    classes = [f"{m:03d}" for m in range(MODES)]
    desc = describe(name, n, images.shape[1:], f" (1,000 modes; {base.description})")
    return StackedSource(images, mode_of(triples), desc, classes, members=members, base_labels=triples)


def load_stacked(root, split: str, size: int | None, channels: int | None, base: str,
                 sizes: dict[str, int] = SIZES) -> StackedSource:
    """The stacked version of ``base`` at ``size`` px; always three channels."""
    from . import load_dataset  # the base set comes through the one entry point

    name = f"stacked-{base}"
    if channels not in (None, 3):
        raise DataError(f"{name} has 3 channels (one base image each); use --channels 3 "
                        f"or the {name} preset")
    grey = load_dataset(base, root, split, size, 1)  # resized once, before stacking
    return stack(grey, sizes[split], SEEDS[split], f"{name}[{split}]")


# 1,000-mode stacked sets: three base images in R, G and B
_STACKED = {"splits": ("train", "test"), "takes": "size,channels", "metrics": ("modes",)}
register_dataset("stacked-mnist", expects=f"the MNIST {IDX_FILES}", preset="stacked-mnist",
                 shape=(3, 28, 28), sizes=SIZES, **_STACKED)(partial(load_stacked, base="mnist"))
register_dataset("stacked-fashion-mnist", expects=f"the Fashion-MNIST {IDX_FILES}",
                 default_root="/usr/share/datasets/fashion-mnist", preset="stacked-fashion-mnist",
                 shape=(3, 28, 28), sizes=SIZES, **_STACKED)(partial(load_stacked, base="fashion-mnist"))
register_dataset("stacked-digits", needs_root=False, preset="stacked-digits",
                 shape=(3, 8, 8), sizes=SMALL, **_STACKED)(partial(load_stacked, base="digits", sizes=SMALL))
