"""Metrics by name (cf. stylegan3's ``metric_main.register_metric``), each one record.

A metric is a function ``(j: Judged, opts: MetricOptions) -> dict`` of floats, registered
with what it means, what it needs, which way each of its numbers is better and whether it
is in the standard set. It reads what it needs from ``j``: the generated images, their
features, the reference (real images, their features and labels, and provenance), the
name of the data imitated, or a conditional generator's labelled sets. Each is made on
first use and shared, so every metric of one evaluation sees the same features, and a
metric that needs something new (the reference's pixels, say) is still one file.

``needs`` names what must be there before any work starts (``NEEDS``), so an evaluation
that cannot give a metric its inputs fails in one line before sampling."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..errors import DfmganError
from .inputs import INPUTS, Judged  # noqa: F401 (Judged: the metrics' one import)

# what a metric may need, and what it means (the table: inputs.INPUTS)
NEEDS = {name: row.meaning for name, row in INPUTS.items()}
# what depends on the generator: a metric needing none of these reads D and real data only
OF_G = frozenset({"images", "features", "logits", "labelled"})
BETTER = ("lower", "higher")


@dataclass
class MetricOptions:
    splits: int = 10  # Inception-score groups
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    k: int = 3  # precision/recall neighbourhood
    seed: int = 0
    cas_epochs: int = 10  # the classification accuracy score's classifier
    probe_budgets: tuple[int | None, ...] = (10, 100, 400)  # the probe's labels per class; None: all
    probe_draws: int = 3  # labelled draws per budget (mean ± std)


@dataclass
class Labelled:
    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor  # (N,) int64


@dataclass
class LabelledSets:
    gen: Labelled  # generated, with the labels G was given
    train: Labelled  # as many real training images (the real-data baseline)
    test: Labelled  # the real test split


MetricFn = Callable[[Judged, MetricOptions], dict]


@dataclass(frozen=True)
class Metric:
    name: str
    fn: MetricFn
    meaning: str  # what its numbers mean, in one line
    needs: tuple[str, ...] = ("features",)  # keys of NEEDS
    better: dict[str, str] = field(default_factory=dict)  # key -> "lower" | "higher"
    best: str | None = None  # the key a best checkpoint is kept by
    default: bool = False  # in the standard set, for data that names none
    during_training: bool = True  # cheap and unlabelled enough to run every eval_every

    def check(self) -> None:
        bad = [n for n in self.needs if n not in NEEDS]
        wrong = {k: v for k, v in self.better.items() if v not in BETTER}
        if bad or wrong or (self.best and self.best not in self.better):
            raise DfmganError(f"metric {self.name!r} is registered wrongly: needs {bad or 'ok'}, "
                              f"better {wrong or 'ok'}, best {self.best!r} must be a key of better")

    def __call__(self, opts: MetricOptions | None = None, **values) -> dict:
        """This metric on inputs already made: ``get_metric("fid")(gen=f, real=r)``."""
        return self.fn(Judged.of(**values), opts or MetricOptions())

    @property
    def of_d_only(self) -> bool:
        """Reads no generated image: the same for the EMA and the raw G of one step."""
        return not (set(self.needs) & OF_G)

    def lower_is_better(self, key: str) -> bool:
        return self.better[key] == "lower"


METRICS: dict[str, Metric] = {}


def register_metric(name: str, meaning: str = "", **record) -> Callable[[MetricFn], MetricFn]:
    """``@register_metric("fid", meaning=..., better={"fid": "lower"}, best="fid")``; the
    other fields of ``Metric`` are keywords too."""
    def wrap(fn: MetricFn) -> MetricFn:
        m = Metric(name, fn, meaning or (fn.__doc__ or "").strip().split("\n")[0], **record)
        m.check()
        METRICS[name] = m
        return fn
    return wrap


def discover() -> None:
    """Import every public module of this package, so a new metric is one file with
    ``@register_metric`` and no list to edit."""
    from ..discovery import discover as import_all

    import_all(__package__)


def get_metric(name: str) -> Metric:
    discover()
    if name not in METRICS:
        raise DfmganError(f"unknown metric {name!r}; choose from {', '.join(sorted(METRICS))}")
    return METRICS[name]


def all_metrics() -> dict[str, Metric]:
    discover()
    return METRICS


def standard() -> tuple[str, ...]:
    """The standard set, in registration order (by module, then within it)."""
    return tuple(n for n, m in all_metrics().items() if m.default)


def best_keys(names) -> list[tuple[str, bool]]:
    """(key, lower is better) of each metric named that keeps a best, in the order given."""
    return [(m.best, m.lower_is_better(m.best)) for m in map(get_metric, names) if m.best]
