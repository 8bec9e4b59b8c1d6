"""Registration without a list to edit: import every module of a package whose text
holds a registering decorator (``@register_metric(``, ``@register_objective``, ...). A
new metric or objective is then one file; none can be missed, and modules that register
nothing (the Inception network's, say) are not imported."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Callable

from .errors import ConfigError

_DONE: set[tuple[str, str]] = set()


def discover(package: str, folder: str | Path, marker: str) -> None:
    """Import each module ``package.NAME`` in ``folder`` whose source holds ``marker``
    (once per package and marker)."""
    if (package, marker) in _DONE:
        return
    _DONE.add((package, marker))
    here = Path(folder)
    for info in pkgutil.iter_modules([str(here)]):
        path = here / f"{info.name}.py"
        if path.exists() and marker in path.read_text():
            importlib.import_module(f"{package}.{info.name}")


def class_registry() -> tuple[dict[str, type], Callable[[type], type]]:
    """(table, decorator) for classes registered under their ``name`` attribute: the
    objectives, the adversarial loss families, D's normalisations."""
    table: dict[str, type] = {}

    def register(cls: type) -> type:
        table[cls.name] = cls
        return cls

    return table, register


def lookup(table: dict, name, what: str):
    """``table[name]``, or one line naming what is unknown and the choices."""
    if not isinstance(name, str) or name not in table:
        raise ConfigError(f"unknown {what} {name!r}; choose one of {', '.join(sorted(table))}")
    return table[name]
