"""dfmgan: DCGAN (Radford et al. 2016) and Denoising Feature Matching
(Warde-Farley & Bengio 2017) in PyTorch.

The public names are imported on first use (PEP 562): ``dfmgan --help``, ``--version``
and ``dfmgan info`` never import torch."""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_WHERE = {"TrainConfig": "config", "build_config": "presets", "load_dataset": "data",
          "load_generator": "snapshot"}
__all__ = [*_WHERE, "train"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)


def train(cfg, out, resume: bool = False, progress: bool = True):
    """Train ``cfg`` (a ``TrainConfig``) into run folder ``out`` (see
    ``dfmgan.training.train``)."""
    from .training import train as _train

    return _train(cfg, out, resume=resume, progress=progress)
