"""Objectives by name. Each is a class with the ``Objective`` interface, registered by
``@register_objective`` in its own module of this package, with its one-line summary and
the settings choosing it implies (``defaults``) beside it. A new objective is one file:
the package imports every module that registers one, and `--objective` lists it."""
from __future__ import annotations

from ..config import ObjectiveConfig, OptimConfig
from ..discovery import discover, lookup
from .base import OBJECTIVES, Objective, register_objective

discover(__name__)  # every objective and loss family: each module of this package


def objective_class(name: str) -> type[Objective]:
    return lookup(OBJECTIVES, name, "objective")


def build_objective(G, D, cfg: ObjectiveConfig, optim: OptimConfig) -> Objective:
    return objective_class(cfg.name)(G, D, cfg, optim)


__all__ = ["OBJECTIVES", "Objective", "build_objective", "objective_class", "register_objective"]
