"""dfmgan: DCGAN (Radford et al. 2016) and Denoising Feature Matching
(Warde-Farley & Bengio 2017) in PyTorch.

The Python API is the command line's program, through the same resolver::

    import dfmgan
    cfg = dfmgan.resolve({"objective": "dfm", "data": "digits", "steps": 2, "net.g_width": 8})
    dfmgan.train(cfg, "runs/api")                      # = dfmgan train --objective dfm ...
    dfmgan.train(None, "runs/api", resume=True)        # = dfmgan train --resume runs/api

The public names are imported on first use (PEP 562): ``dfmgan --help``, ``--version``
and ``dfmgan info`` never import torch."""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_WHERE = {"TrainConfig": "config", "resolve": "resolver", "build_config": "resolver",
          "load_dataset": "data", "load_generator": "snapshot"}
__all__ = [*_WHERE, "train"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)


def train(cfg=None, out=None, resume: bool = False, progress: bool = True,
          branch_from=None, threads: int | None = None):
    """Train ``cfg`` into run folder ``out``, as ``dfmgan train`` does: ``cfg`` is a dict
    (flat names such as ``"objective": "dfm"``, sections, or dotted keys such as
    ``"net.g_width": 8``), a ``TrainConfig`` or None, resolved over the data set's preset;
    with ``resume``, over the run's own config (None continues it exactly); with
    ``branch_from=RUN``, a new run ``out`` continuing from RUN's last state. ``threads``:
    CPU threads (torch's default otherwise). Returns a ``TrainResult``; bad settings raise
    ``dfmgan.errors.ConfigError`` (one line) before any file is written."""
    from .training import train as _train

    return _train(cfg, out, resume=resume, progress=progress, branch_from=branch_from,
                  threads=threads)
