"""Objectives by name. Each is a class with the ``Objective`` interface."""
from __future__ import annotations

from ..config import ObjectiveConfig, OptimConfig
from ..errors import ConfigError
from .base import Objective
from .dfm import DFMObjective
from .feature_matching import FeatureMatchingObjective
from .gan import GANObjective

OBJECTIVES: dict[str, type[Objective]] = {
    c.name: c for c in (GANObjective, DFMObjective, FeatureMatchingObjective)}


def build_objective(G, D, cfg: ObjectiveConfig, optim: OptimConfig) -> Objective:
    if cfg.name not in OBJECTIVES:
        raise ConfigError(f"unknown objective {cfg.name!r}; choose one of {', '.join(OBJECTIVES)}")
    return OBJECTIVES[cfg.name](G, D, cfg, optim)


__all__ = ["OBJECTIVES", "Objective", "build_objective"]
