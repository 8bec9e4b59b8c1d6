"""Metrics by name (cf. stylegan3's ``metric_main.register_metric``).

A metric is a function ``(gen: Features, real: Features, opts: MetricOptions) -> dict``
of floats. All share one extraction path (``features.extract``), so every metric of an
evaluation sees the same features."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import DfmganError
from .features import Features


@dataclass
class MetricOptions:
    splits: int = 10  # Inception-score groups
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    k: int = 3  # precision/recall neighbourhood
    seed: int = 0


MetricFn = Callable[[Features, Features, MetricOptions], dict]
METRICS: dict[str, MetricFn] = {}


def register_metric(name: str) -> Callable[[MetricFn], MetricFn]:
    def wrap(fn: MetricFn) -> MetricFn:
        METRICS[name] = fn
        return fn
    return wrap


def get_metric(name: str) -> MetricFn:
    from . import metrics  # noqa: F401  (registers the standard set)

    if name not in METRICS:
        raise DfmganError(f"unknown metric {name!r}; choose from {', '.join(sorted(METRICS))}")
    return METRICS[name]
