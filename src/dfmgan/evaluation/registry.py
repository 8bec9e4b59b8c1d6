"""Metrics by name (cf. stylegan3's ``metric_main.register_metric``).

A metric is a function ``(gen: Features, real: Features, opts: MetricOptions) -> dict``
of floats. All share one extraction path (``features.extract``), so every metric of an
evaluation sees the same features.

A *labelled* metric (``register_metric(name, labelled=True)``) judges a conditional
generator instead: ``(sets: LabelledSets, opts) -> dict``, where the sets are generated
images with the labels they were drawn for, as many real training images, and the real
test split (DCGAN supplement, Table 3).

An *images* metric (``needs="images"``) reads the generated uint8 images themselves, with
the name of the data they imitate: ``(gen: Images, opts) -> dict`` (``modes`` on stacked
data classifies each channel on its own).

A metric may name the key it is judged by when a best checkpoint is kept (``best=``);
lower is better for every such key."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..errors import DfmganError


@dataclass
class MetricOptions:
    splits: int = 10  # Inception-score groups
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    k: int = 3  # precision/recall neighbourhood
    seed: int = 0
    cas_epochs: int = 10  # the classification accuracy score's classifier


@dataclass
class Labelled:
    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor  # (N,) int64


@dataclass
class Images:
    images: torch.Tensor  # (N, C, H, W) uint8, generated
    data: str  # the dataset they imitate


@dataclass
class LabelledSets:
    gen: Labelled  # generated, with the labels G was given
    train: Labelled  # as many real training images (the real-data baseline)
    test: Labelled  # the real test split


MetricFn = Callable[..., dict]
METRICS: dict[str, MetricFn] = {}
NEEDS: dict[str, str] = {}  # name -> "features" | "labelled" | "images"
BEST: dict[str, str] = {}  # name -> the key a best checkpoint is chosen by (lower wins)
MEANINGS: dict[str, str] = {}  # name -> what its numbers mean, in one line


def register_metric(name: str, labelled: bool = False, needs: str = "features",
                    best: str | None = None, meaning: str = "") -> Callable[[MetricFn], MetricFn]:
    def wrap(fn: MetricFn) -> MetricFn:
        METRICS[name], NEEDS[name] = fn, "labelled" if labelled else needs
        MEANINGS[name] = meaning or (fn.__doc__ or "").strip().split("\n")[0]
        if best:
            BEST[name] = best
        return fn
    return wrap


def meaning(name: str) -> str:
    get_metric(name)
    return MEANINGS[name]


def needs(name: str) -> str:
    get_metric(name)
    return NEEDS[name]


def by_need(metrics) -> dict[str, list[str]]:
    """The metrics grouped by what they need: {"features": [...], "images": [...],
    "labelled": [...]}, each in the order given."""
    out: dict[str, list[str]] = {"features": [], "images": [], "labelled": []}
    for m in metrics:
        out[needs(m)].append(m)
    return out


def is_labelled(name: str) -> bool:
    return needs(name) == "labelled"


def discover() -> None:
    """Import every module of this package that registers a metric, so a new metric is one
    file with ``@register_metric`` and no list to edit."""
    from ..discovery import discover as import_all

    import_all(__package__)


def get_metric(name: str) -> MetricFn:
    discover()

    if name not in METRICS:
        raise DfmganError(f"unknown metric {name!r}; choose from {', '.join(sorted(METRICS))}")
    return METRICS[name]
