"""Which settings a caller gave: the config dataclasses remember the fields passed to
their constructor or assigned later, so that the resolver (``resolver.py``) lets exactly
those win over a preset and the objective's defaults, and fills in the rest as the CLI
would. ``TrainConfig(steps=2)`` then trains the default data set's preset for 2 steps,
never the bare dataclass defaults beneath it."""
from __future__ import annotations

import copy
import dataclasses
import functools


def tracked(cls):
    """Class decorator for a dataclass: instances record the names of the fields given
    (positional or keyword arguments, then any assignment) in ``_given``."""
    names = [f.name for f in dataclasses.fields(cls)]
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        object.__setattr__(self, "_given", frozenset(names[:len(args)]) | frozenset(kwargs))

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if name in names and "_given" in self.__dict__:
            object.__setattr__(self, "_given", self._given | {name})

    cls.__init__, cls.__setattr__ = __init__, __setattr__
    return cls


def given_fields(obj) -> frozenset[str]:
    """The fields of ``obj`` a caller gave (all of them for an object built otherwise)."""
    return obj.__dict__.get("_given", frozenset(f.name for f in dataclasses.fields(obj)))


def given_dict(obj) -> dict:
    """``obj``'s given settings as a nested mapping: a section counts by its own given
    fields, so ``TrainConfig(net=NetConfig(g_width=8))`` gives only ``net.g_width``."""
    out, given = {}, given_fields(obj)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            inner = given_dict(value)
            if inner or f.name in given and not dataclasses.fields(value):
                out[f.name] = inner
        elif f.name in given:
            out[f.name] = copy.deepcopy(value)
    return out
