"""One way in: every entrance (``dfmgan train`` and its flags, ``--print-config``, a
``--config`` file, a study spec, a Python dict or ``TrainConfig``, a saved run to resume
or branch) becomes one complete, checked ``TrainConfig`` here, and nothing downstream
fills a gap. What this returns is what ``config.json`` records.

Layers, lowest first (cf. edm2's ``train.py``, which validates everything before
``training_loop`` starts):

    defaults < the data set's own preset (a data set named without a preset, and the
    default data set) < the preset < the objective's ``defaults`` < a config file < flags,
    ``--set`` and overrides

or, to resume or branch, a saved run's config < flags. Each layer may spell a setting as
a nested section (``{"net": {"g_width": 8}}``), a dotted key (``"net.g_width": 8``, as
``--set`` does) or a flag's name (``"g_width": 8``, ``"objective": "dfm"``).
"""
from __future__ import annotations

from collections.abc import Mapping

from .config import TrainConfig, dotted, from_dict, merge, migrate
from .regularizers import names as term_names
from .devices import check_device
from .errors import ConfigError, DfmganError

# a flag's name (its argparse dest) -> the setting it sets; the same names work as keys of
# any layer, so a Python dict and the command line read alike
FLAG_KEYS = {
    "data": "data.name", "data_root": "data.root", "split": "data.split",
    "steps": "steps", "epochs": "epochs", "batch_size": "batch_size", "seed": "seed",
    "device": "device", "objective": "objective.name", "scheme": "objective.scheme",
    "adversarial": "objective.adversarial", "d_norm": "net.d_norm",
    "lr": "optim.lr", "size": "net.size", "channels": "net.channels",
    "g_width": "net.g_width", "d_width": "net.d_width", "latent": "net.latent",
    "sample_every": "sample_every", "checkpoint_every": "checkpoint_every", "keep": "keep",
    "log_every": "log_every", "sample_bn": "sample_bn", "eval_every": "eval_every",
    "eval_n": "eval_n", "classes": "net.n_classes", "precision": "speed.precision",
    "channels_last": "speed.channels_last", "compile": "speed.compile", "ema": "ema",
    "eval_metrics": "eval_metrics", "eval_best": "eval_best", "fit": "data.fit",
    "background": "data.background", "skip_bad": "data.skip_bad", "augment": "objective.augment",
    "reg_every": "objective.reg_every",
    **{name: f"objective.{name}" for name in term_names()},  # --r1, --r2, ...: D-side terms
}
TOP = frozenset(TrainConfig().to_dict())  # every top-level key of a complete config


def layer_of(settings, where: str = "settings") -> dict:
    """Any spelling of a layer -> a nested mapping in ``TrainConfig.to_dict``'s shape. A
    ``TrainConfig`` gives the settings its maker gave (``TrainConfig.given``). A setting
    spelled twice with two values is refused, not settled by the order of the keys."""
    if settings is None:
        return {}
    if isinstance(settings, TrainConfig):
        return settings.given()
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{where} must be a mapping of settings, got {type(settings).__name__}")
    flat: dict[str, object] = {}
    for key, value in leaves(settings, where):
        if key in flat and flat[key] != value:
            raise ConfigError(f"{where}: {key} is given twice ({flat[key]!r} and {value!r})")
        flat[key] = value
    for key in flat:
        if any(other.startswith(key + ".") for other in flat):
            raise ConfigError(f"{where}: {key} is a section of settings, not one value")
    out: dict = {}
    for key, value in flat.items():
        out = merge(out, dotted(key, value))
    return out


def leaves(mapping: Mapping, where: str, prefix: str = ""):
    """(dotted key, value) of every setting in ``mapping``; an empty section is kept as
    one (an objective's own section may be empty)."""
    for key, value in mapping.items():
        if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
            raise ConfigError(f"{where}: {key!r} is not a setting's name")
        if not prefix and not isinstance(value, Mapping) and key in FLAG_KEYS:
            key = FLAG_KEYS[key]  # a flag's name, or a section given by its name
        if isinstance(value, Mapping) and value:
            yield from leaves(value, where, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", dict(value) if isinstance(value, Mapping) else value


def resolve(settings=None, *, preset: str | None = None, file=None, base=None) -> TrainConfig:
    """The complete, checked config of ``settings`` (the top layer: flags, ``--set``, a
    dict or a ``TrainConfig``) over ``file`` (a config file's mapping) over ``preset``, or,
    with ``base`` (a saved run's config), over that run's settings. One line
    (``ConfigError``) for the first bad name, value or pair, before any file or data."""
    try:
        return check(complete(settings, preset=preset, file=file, base=base))
    except ConfigError:
        raise
    except DfmganError as e:  # a registry's refusal (an unknown data set or metric, say)
        raise ConfigError(str(e)) from None


def build_config(preset: str | None = None, file=None, overrides=None, base=None) -> TrainConfig:
    """``resolve`` with the layers as positional arguments, lowest first."""
    return resolve(overrides, preset=preset, file=file, base=base)


def complete(settings=None, *, preset=None, file=None, base=None) -> TrainConfig:
    """The layers merged and typed, the objective's scheme, family and own settings filled
    in; ``check`` then tests it. A saved config alone (``complete(base=...)``) is read as
    it was written, a setting added since taking its default (this project's rule: the
    behaviour from before it existed), so an older run still resumes."""
    from .presets import only_own, preset_dict

    layers = [migrate(layer_of(file, "config file")), migrate(layer_of(settings))]
    start = TrainConfig().to_dict()
    if base is not None:
        start = merge(start, migrate(layer_of(base, "saved config")))
    name = topmost(layers, "objective.name", start["objective"]["name"])
    if base is None:  # a saved run keeps what it resolved to: no data set preset, no defaults
        preset = preset or topmost(layers, "preset", empty=False) or own_preset(layers)
    below = [only_own(preset_dict(preset), name)] if preset else []
    if base is None:
        below.insert(0, stored_shape(layers))
    layers = below + ([objective_defaults(name)] if base is None else []) + layers
    d = start
    for layer in layers:
        d = merge(d, explicit_steps(for_objective(layer, name)))
    return with_objective(from_dict(by_path(d)))


def topmost(layers: list[dict], key: str, default=None, empty: bool = True):
    """The value of dotted ``key`` in the highest layer that gives it (with ``empty``
    False, the highest that gives a value other than None or "")."""
    for layer in reversed(layers):
        node = layer
        for part in key.split("."):
            node = node.get(part, MISSING) if isinstance(node, Mapping) else MISSING
        if node is not MISSING and (empty or node):
            return node
    return default


MISSING = object()


def by_path(d: dict) -> dict:
    """``data.name`` given as a path: a packed set's file (``NAME.dfmpack``) or a folder of
    images, read by its loader with the path as ``data.root``."""
    from .data import dataset_or_folder

    data = d.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("name"), str):
        name, root = dataset_or_folder(data["name"], data.get("root"))
        if name != data["name"]:
            return {**d, "data": {**data, "name": name, "root": root}}
    return d


def own_preset(layers: list[dict]) -> str | None:
    """The preset of the data set the layers name (else of the default data set), if it has one."""
    from .config import DataConfig
    from .data import facts

    info = facts(topmost(layers, "data.name", DataConfig().name))
    return info.preset if info is not None else None


def stored_shape(layers: list[dict]) -> dict:
    """For data stored at one resolution (a packed set), a layer of its size and channels,
    so ``--data x.dfmpack`` trains at the size it was packed at."""
    from .data import dataset_or_folder, facts

    data = topmost(layers, "data.name")
    if not isinstance(data, str):
        return {}
    name, root = dataset_or_folder(data, topmost(layers, "data.root", empty=False))
    info = facts(name)
    if info is None or info.shape_of is None or root is None:
        return {}
    size, channels = info.shape_of(root)
    return {"net": {"size": size, "channels": channels}}


def objective_defaults(name) -> dict:
    from .objectives import objective_class

    return objective_class(name).defaults


def explicit_steps(layer: dict) -> dict:
    """A layer that sets ``steps`` and not ``epochs`` clears any ``epochs`` below it (a
    preset's): an explicit --steps always wins. Both in one partial layer is a conflict;
    a complete config (a run's config.json) holds both, and its epochs decide."""
    if "steps" not in layer or TOP <= set(layer):
        return layer
    if layer.get("epochs") is not None:
        raise ConfigError("give steps or epochs, not both (epochs sets steps from the data's size)")
    return {**layer, "epochs": None}


def for_objective(layer: dict, name: str) -> dict:
    """``layer`` without the scheme, family and own settings it gives for another objective
    than ``name``, nor the D-side terms at that objective's defaults: a run's config.json
    used as ``--config`` to branch it with another ``--objective`` names its old
    objective's resolved scheme and every term (0 for gan, r3's γ for r3), which are not
    the new one's. A term set to anything else was a choice, and is kept."""
    obj = layer.get("objective")
    if not isinstance(obj, Mapping) or obj.get("name", name) == name:
        return layer
    old = old_defaults(obj["name"])
    own = {k for k in term_names() if k in obj and obj[k] == old.get(k, 0)}
    kept = {k: v for k, v in obj.items() if k not in ("scheme", "adversarial", obj["name"], *own)}
    return {**layer, "objective": {**kept, "name": name}}


def old_defaults(name) -> dict:
    """The objective section that choosing ``name`` sets (``{}`` for a name not registered:
    the check refuses it later, in one line)."""
    from .objectives import OBJECTIVES

    cls = OBJECTIVES.get(name) if isinstance(name, str) else None
    return dict((cls.defaults if cls else {}).get("objective", {}))


def with_objective(cfg: TrainConfig) -> TrainConfig:
    """The objective's own settings typed and complete, its scheme and family those in
    effect: config.json shows all of it, and a pair it cannot work with is refused."""
    from dataclasses import asdict

    from .objectives import objective_class

    cls = objective_class(cfg.objective.name)
    cfg.objective.own = asdict(cls.settings(cfg.objective.own))
    cfg.objective.scheme, cfg.objective.adversarial = cls.resolve(cfg.objective)
    return cfg


def check(cfg: TrainConfig) -> TrainConfig:
    """Every name and cross-field constraint of a complete config, checked against the
    registries before any work: objective x family x scheme, D's normalisation, the
    augmentation, the data set and its split, the image options, the feature layer
    against D's depth, the metrics and their needs (the Inception extra included), the
    device string. Ranges and types were checked by ``from_dict``."""
    from .data import dataset_info, options_of
    from .models.d_norms import d_norm
    from .models.netconfig import BN_MODES
    from .objectives import objective_class
    from .objectives.adversarial import family
    from .objectives.augment import parse_policy
    from .regularizers import check_terms

    cls = objective_class(cfg.objective.name)
    family(cfg.objective.adversarial)
    cls.check(cls.settings(cfg.objective.own), cfg)
    check_terms(cfg.objective.terms, cfg.objective.reg_every, cfg.speed)
    parse_policy(cfg.objective.augment)
    d_norm(cfg.net.d_norm)
    info = dataset_info(cfg.data.name)
    if cfg.data.split is not None and cfg.data.split not in info.splits:
        raise ConfigError(f"{cfg.data.name} has no split {cfg.data.split!r}; choose one of "
                          f"{', '.join(info.splits)}")
    options_of(cfg.data)  # fit and background
    if info.check is not None:  # what the data's files can say before loading (a pack's size)
        info.check(cfg.data.root, cfg.net.size, cfg.net.channels)
    if cfg.sample_bn not in BN_MODES:
        raise ConfigError(f"sample_bn must be batch or running, got {cfg.sample_bn!r}")
    check_device(cfg.device)
    check_evaluation(cfg)
    return cfg


def check_evaluation(cfg: TrainConfig) -> None:
    """The metrics of ``eval_metrics`` and the key of ``eval_best`` exist and can run
    during training on this data; a standard-Inception metric needs its extra installed."""
    if not (cfg.eval_every or cfg.eval_metrics or cfg.eval_best):
        return
    from .evaluation.api import needed
    from .evaluation.during import plan
    from .evaluation.features import needs_extra

    metrics, _, _ = plan(cfg.data.name, cfg.eval_metrics, cfg.eval_best, needs=True)
    if cfg.eval_every and needed(metrics) & {"features", "logits"}:
        needs_extra(cfg.data.name)


__all__ = ["FLAG_KEYS", "build_config", "check", "complete", "layer_of", "resolve"]
