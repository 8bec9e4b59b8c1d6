"""The training loop and what it writes. Names are imported on first use (PEP 562), so
the run-folder helpers (``rundir``, ``stats``) can be read without torch."""
from __future__ import annotations

import importlib

__all__ = ["TrainResult", "Trainer", "resolve_device", "train"]


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(".loop", __name__), name)
