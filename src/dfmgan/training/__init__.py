"""The training loop and what it writes. Names are imported on first use (PEP 562), so
the run-folder helpers (``rundir``, ``stats``) can be read without torch."""
from __future__ import annotations

import importlib

_WHERE = {"TrainResult": "run", "train": "run", "Trainer": "loop", "resolve_device": "loop"}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
