"""Objectives by name. Each is a class with the ``Objective`` interface, registered by
``@register_objective`` in its own module of this package, with its one-line summary and
the settings choosing it implies (``defaults``) beside it. A new objective is one file:
the package imports every module that registers one, and `--objective` lists it."""
from __future__ import annotations

import dataclasses

from ..config import ObjectiveConfig, OptimConfig, TrainConfig, dotted, flatten, from_dict, merge
from ..discovery import discover, lookup
from .base import OBJECTIVES, Objective, register_objective

discover(__name__)  # every objective and loss family: each module of this package


def objective_class(name: str) -> type[Objective]:
    return lookup(OBJECTIVES, name, "objective")


def build_objective(G, D, cfg: ObjectiveConfig, optim: OptimConfig) -> Objective:
    return objective_class(cfg.name)(G, D, cfg, optim)


def with_defaults(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with its objective's ``defaults`` (WGAN-GP's Adam(1e-4, 0, 0.9) and layer
    norm, say) wherever the mapping it was read from left the setting out, so that
    ``train(from_dict({"objective": {"name": "wgan-gp"}}))`` trains what the CLI's
    ``--objective wgan-gp`` does. A config built otherwise (the constructor, a resolved
    config.json, ``presets.build_config``) names every setting and is returned as it is."""
    given = getattr(cfg, "given", None)
    if given is None:
        return cfg
    missing = {k: v for k, v in flatten(objective_class(cfg.objective.name).defaults).items()
               if k not in given}
    if not missing:
        return cfg
    d = cfg.to_dict()
    for key, value in missing.items():
        d = merge(d, dotted(key, value))
    return from_dict(d)


def completed(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with its objective's own section typed and complete, as a preset builds it.
    A setting added to an objective since a config.json or checkpoint was written takes its
    default there (by this project's rule, the behaviour from before the setting existed),
    so the older run still resumes, and compares equal to the same run configured today."""
    own = dataclasses.asdict(objective_class(cfg.objective.name).settings(cfg.objective.own))
    if own == cfg.objective.own:
        return cfg
    out = dataclasses.replace(cfg, objective=dataclasses.replace(cfg.objective, own=own))
    if (given := getattr(cfg, "given", None)) is not None:
        object.__setattr__(out, "given", given)
    return out


__all__ = ["OBJECTIVES", "Objective", "build_objective", "completed", "objective_class",
           "with_defaults", "register_objective"]
