"""Registration without a list to edit: a registry's package imports every public module
it holds (each file or subpackage whose name does not start with ``_``), so a new metric,
objective, loss family, D normalisation or dataset is one file, whatever it is named and
however its decorator is spelled (``@register_metric(``, ``@registry.register_metric(``).
Modules are found through the package's ``__path__``, so a package extended with another
folder (a test's temporary copy, a namespace) is read whole too."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

from .errors import ConfigError

_DONE: set[str] = set()


def discover(package: str) -> None:
    """Import each public module of ``package`` once (later calls return at once)."""
    if package in _DONE:
        return
    _DONE.add(package)
    pkg = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
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
