"""Typed configuration: dataclasses whose defaults are DCGAN's, named presets,
a YAML/JSON file and flag overrides, and the resolved config as JSON.

Precedence, lowest first: defaults < preset < --config FILE < flags (incl. --set).
"""
from __future__ import annotations

import dataclasses
import json
import re
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .given import given_dict, tracked
from .regularizers import spelled_terms, terms_section
from .models.netconfig import RANGES as NET_RANGES
from .models.netconfig import NetConfig

# fp16 autocasts with a gradient scaler (GPU); auto: bf16 where the CPU has native bf16
# dot products, fp32 elsewhere (training/speed.py)
PRECISIONS = ("fp32", "bf16", "fp16", "auto")


@tracked
@dataclass
class DataConfig:
    name: str = "digits"  # a registered data set (--data); the default trains its preset
    root: str | None = None  # where its files are (--data-root); null: its default place
    split: str | None = None  # None: the dataset's training split
    # image files (folder, lsun, openclipart, emoji): data/images.py
    fit: str = ""  # crop | pad; "" = the dataset's own (crop for folder, pad for clip art)
    background: str = "white"  # what transparent pixels and pad's margins become
    skip_bad: bool = False  # train without unreadable files instead of stopping


@tracked
@dataclass
class OptimConfig:
    """Adam(2e-4, β1 = 0.5) from DCGAN §4; DFM uses 1e-4."""

    lr: float = 2e-4  # Adam's learning rate, every network
    beta1: float = 0.5  # Adam's β1 (DCGAN §4: 0.5, not 0.9)
    beta2: float = 0.999  # Adam's β2


@tracked
@dataclass
class ObjectiveConfig:
    """What every objective has. An objective's own settings (DFM's λ and denoiser, the
    feature layer Φ) are its ``Settings`` dataclass, in its own module; here they are
    ``own``, a mapping that files, flags and config.json spell under the objective's name
    (``objective.dfm.lambda_scale``). the resolver (``resolver.with_objective``) types and checks them."""

    name: str = "gan"  # a registered objective (--objective)
    # "alternating" (DCGAN) or "simultaneous" (DFM); "" = the objective's own (its ``scheme``),
    # resolved when it is built and written into config.json by the resolver
    scheme: str = ""
    adversarial: str = ""  # D's loss and G's adversarial term; "" = the objective's own
    augment: str = ""  # DiffAugment policies before every D pass: color,translation,cutout
    own: dict = field(default_factory=dict)
    # D-side terms (regularizers/: R1, R2, ...), γ by name; spelled objective.NAME (--NAME);
    # absent or 0 = off. Every objective, family and scheme takes them.
    terms: dict = field(default_factory=dict)
    reg_every: int = 1  # lazy terms: computed every k-th D step, weighted by k (StyleGAN2)


@tracked
@dataclass
class SpeedConfig:
    """How fast, not what: none of these change the model being trained."""

    # fp32 | bf16 | fp16 (autocast; fp16 with a gradient scaler) | auto. fp32 stays the
    # default although bf16 trained as well and 1.5-1.7x faster on machine A: a command must
    # train the same bits on every CPU, and auto's choice depends on the CPU (README)
    precision: str = "fp32"
    # NHWC memory layout for convolutions: on by default since it made the 32 px steps
    # 1.07-1.26x faster on a 2-core CPU (BENCHMARKS.md); allclose to NCHW, not bitwise
    channels_last: bool = True
    compile: bool = False  # torch.compile G, D's feature pass and the denoiser
    cudnn_benchmark: bool = True  # let cuDNN pick the fastest kernels (GPU)
    # batches gathered ahead by a background thread while the step computes, for a set read
    # from disk or decoded (a set in memory is gathered in the step); 0 = in the step; -1 =
    # 2 on a GPU, 0 on the CPU, where the gathering competes with the step for the same
    # cores (on 2 cores it cost 15-20% of training speed; results: "Feeding the data"). The
    # order is the sampler's either way, so the same bits train (data/batches.py)
    prefetch: int = -1

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; use {', '.join(PRECISIONS)}")


@tracked
@dataclass
class TrainConfig:
    net: NetConfig = field(default_factory=NetConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    batch_size: int = 128  # images per step, over all processes
    steps: int = 10_000  # training steps (one G update each)
    epochs: float | None = None  # when set, steps = epochs * (images // batch_size)
    seed: int = 0  # seed of the init, the data order and the latents
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    sample_every: int = 500  # steps between sample grids
    checkpoint_every: int = 500  # steps between checkpoints
    keep: int = 3  # checkpoints kept on disk
    log_every: int = 10  # steps between stats rows written and the bar's update
    grid: int = 64  # images in the fixed-z sample grid
    eval_every: int = 0  # > 0: cheap FID every N steps, best checkpoint kept in RUN/best
    eval_n: int = 5000  # samples (and real images) for that FID
    eval_metrics: str = ""  # comma-separated metric names; "" = the dataset's (fid, or modes)
    eval_best: str = ""  # the key RUN/best is kept by (lowest wins); "" = the first metric's
    ema: float = 0.0  # > 0: keep an EMA of G's weights with this half-life in images
    sample_bn: str = "batch"  # BatchNorm mode when sampling: "batch" or "running"
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    preset: str | None = None  # the preset the resolver laid under this config (a record)

    def to_dict(self) -> dict:
        d = asdict(self)
        objective = d["objective"]
        own = objective.pop("own")
        if own:  # the objective's own settings, under its name
            objective[objective["name"]] = own
        objective.update(spelled_terms(objective.pop("terms"), complete=True))
        return d

    def given(self) -> dict:
        """The settings a caller gave (``given.given_dict``), spelled as ``to_dict`` spells
        them: the resolver's top layer for a config built in Python."""
        d = given_dict(self)
        objective = d.get("objective", {})
        own = objective.pop("own", None)
        if own:
            objective[self.objective.name] = own
        objective.update(spelled_terms(objective.pop("terms", {}), complete=False))
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# The allowed range of every number a user can set: (low, high), both included; a
# setting that may be null says so. Checked before any work starts (``check_ranges``).
BIG = 2 ** 31 - 1
RANGES: dict[str, tuple[float, float]] = {
    "batch_size": (1, 65_536), "steps": (1, 10 ** 12), "epochs": (1e-6, 1e6),
    "seed": (0, 2 ** 32 - 1), "sample_every": (1, BIG), "checkpoint_every": (1, BIG),
    "keep": (1, 10_000), "log_every": (1, BIG), "grid": (1, 4_096), "eval_every": (0, BIG),
    "eval_n": (2, 10 ** 7), "ema": (0, 1e12),
    "speed.prefetch": (-1, 64), "objective.reg_every": (1, 10_000), "optim.lr": (1e-12, 10.0), "optim.beta1": (0.0, 0.999999), "optim.beta2": (0.0, 0.999999),
    **{f"net.{k}": v for k, v in NET_RANGES.items()},
}  # an objective's own settings carry their ranges in their Settings (``RANGES`` there)
NULLABLE = {"epochs"}


def check_ranges(values: dict, ranges: dict = RANGES, nullable=NULLABLE, prefix: str = "") -> None:
    """One line naming the first setting outside its range (NaN and inf included);
    ``values`` is flat (``flatten``), keys as in ``ranges``."""
    for key, (lo, hi) in ranges.items():
        v = values[key]
        if v is None and key in nullable:
            continue
        if not (isinstance(v, (int, float)) and lo <= v <= hi):  # False for NaN
            raise ConfigError(f"{prefix}{key} must be in {lo:,}..{hi:,}, got {v!r}")


# Settings that may change when a run is resumed; everything else must match. A branch
# (a new run from another's last state) may change anything but those under BRANCH_KEEPS.
BRANCH_KEEPS = ("net.", "objective.name", "data.name", "data.split")
RESUMABLE = {"steps", "epochs", "device", "sample_every", "checkpoint_every", "keep",
             "log_every", "preset", "data.root", "eval_every", "eval_n", "eval_metrics", "eval_best",
             "speed.precision",
             "speed.channels_last", "speed.compile", "speed.cudnn_benchmark", "speed.prefetch"}


def from_dict(d: dict, cls=TrainConfig, where: str = "config"):
    """Build a dataclass from a nested dict; unknown keys are an error, not ignored."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(d).__name__}")
    if cls is TrainConfig:
        d = migrate(d)
    if cls is ObjectiveConfig:
        d = _own_section(terms_section(d, where), where)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ConfigError(f"unknown {where} key(s): {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known))}")
    kwargs, nested = {}, _nested_types(cls)
    for k, v in d.items():
        sub = nested.get(k)
        kwargs[k] = from_dict(v, sub, f"{where}.{k}") if sub else _typed(known[k], v, where)
    try:
        out = cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None
    if cls is TrainConfig:
        check_ranges(flatten(out.to_dict()))
    return out


def _nested_types(cls) -> dict[str, type]:
    """Fields of ``cls`` whose type is a dataclass (nested settings), by name; annotations
    are resolved in the module that defines ``cls``, so any module's settings nest."""
    return {k: t for k, t in typing.get_type_hints(cls).items() if dataclasses.is_dataclass(t)}


def _own_section(d: dict, where: str) -> dict:
    """``objective.NAME`` (the objective's own settings) read into ``own``; a section named
    for another objective is an error, not silently ignored."""
    d, name = dict(d), d.get("name", ObjectiveConfig.name)
    if isinstance(name, str) and name in d:
        if not isinstance(d[name], dict):
            raise ConfigError(f"{where}.{name} must be a mapping of {name}'s settings, "
                              f"got {d[name]!r}")
        d["own"] = d.pop(name)
    for k, v in d.items():
        if isinstance(v, dict) and k not in ("own", "terms"):
            raise ConfigError(f"{where.removeprefix('config.')}.{k} holds settings of objective "
                              f"{k!r}, but the objective is {name!r}")
    return d


# Objective settings as spelled before they moved into their objectives (2026-11-23), and
# their keys now: a key here goes to the first owner (or to the run's objective, if that is
# an owner) and is dropped for any other objective, which never read it. Old config.json
# files, checkpoints, study specs and --set lines keep working.
LEGACY = {"lambda_denoise": (("dfm",), "lambda_denoise"),
          "lambda_scale": (("dfm",), "lambda_scale"),
          "dfm_grad_share": (("dfm",), "grad_share"), "lambda_adv": (("dfm",), "lambda_adv"),
          "denoiser": (("dfm",), "denoiser"), "feature_layer": (("dfm", "fm"), "feature_layer")}


def migrate(layer: dict) -> dict:
    """``layer`` (a whole config's mapping, or one layer of one) with legacy objective keys
    moved under the objective's name; the new spelling wins within a layer."""
    objective = layer.get("objective")
    if not isinstance(objective, dict) or not set(objective) & set(LEGACY):
        return layer
    objective, name = dict(objective), objective.get("name")
    for key in [k for k in objective if k in LEGACY]:
        value, (owners, new) = objective.pop(key), LEGACY[key]
        owner = name if name in owners else owners[0] if name is None else None
        if owner is not None:
            section = objective.get(owner) if isinstance(objective.get(owner), dict) else {}
            objective[owner] = {new: value, **section}
    return {**layer, "objective": objective}


def _typed(f: dataclasses.Field, v, where: str):
    """Check ``v`` against the kind of the field's default; ints stay ints."""
    default, name = f.default, f"{where}.{f.name}"
    if default is None and v is not None:  # "str | None", "float | None": the annotation says
        kind = str(f.type)
        if kind.startswith("str") and not isinstance(v, str):
            raise ConfigError(f"{name} must be a string or null, got {v!r}")
        if kind.startswith("float"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{name} must be a number or null, got {v!r}")
            return float(v)
    elif isinstance(default, bool):
        if not isinstance(v, bool):
            raise ConfigError(f"{name} must be true or false, got {v!r}")
    elif isinstance(default, (int, float)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{name} must be a number, got {v!r}")
        if isinstance(default, int) and not float(v).is_integer():
            raise ConfigError(f"{name} must be a whole number, got {v!r}")
        return type(default)(v)
    elif isinstance(default, str) and not isinstance(v, str):
        raise ConfigError(f"{name} must be a string, got {v!r}")
    return v


def merge(base: dict, over: dict) -> dict:
    """Recursive dict update; ``over`` wins."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def dotted(key: str, value: Any) -> dict:
    """"net.g_width", 64 -> {"net": {"g_width": 64}}"""
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def load_yaml(text: str):
    """YAML as a user means it: ``1e-3`` is a number. PyYAML follows YAML 1.1, whose floats
    need a dot (``1.0e-3``), and reads ``1e-3`` as a string; this loader adds YAML 1.2's
    float pattern to PyYAML's safe loader. JSON is YAML, so config files may be either."""
    import yaml

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            # aliases refused outright: no setting needs one, and a few lines of nested
            # aliases expand to 4^27 paths (an alias bomb) that any walk of them would take
            if self.check_event(yaml.events.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"found the alias *{event.anchor}: dfmgan's files take no "
                    "aliases (write the value out)", event.start_mark)
            return super().compose_node(parent, index)

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_12, list("-+0123456789."))
    try:
        obj = yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)
    except RecursionError:
        raise yaml.YAMLError("it is nested too deeply") from None
    except ValueError as e:  # an integer past Python's 4,300 digits, say
        raise yaml.YAMLError(str(e).splitlines()[0][:120]) from None
    from .reading import check_numbers

    check_numbers(obj, yaml.YAMLError)
    return obj


FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$")


def parse_set(item: str) -> dict:
    """--set KEY=VALUE, the value read as YAML (numbers, booleans, null, strings)."""
    import yaml

    if "=" not in item:
        raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
    key, raw = item.split("=", 1)
    if not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"--set {item!r}: the key must be a setting's dotted name")
    try:
        return dotted(key.strip(), load_yaml(raw))
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {key}: cannot parse {raw!r}: {e}") from None


def read_file(path: str | Path) -> dict:
    """A YAML or JSON config file (JSON is YAML), as a nested dict."""
    import yaml

    from .reading import regular

    p = regular(path, "config file")
    try:
        d = load_yaml(p.read_text())
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not text (YAML or JSON)") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {p} is not valid YAML/JSON: {e}".splitlines()[0]) from None
    except RecursionError:
        raise ConfigError(f"config file {p} is nested too deeply") from None
    from .reading import TooDeep, check_depth

    try:
        check_depth(d)
    except TooDeep as e:
        raise ConfigError(f"config file {p} cannot be a config: {e}") from None
    if not isinstance(d, dict):
        raise ConfigError(f"config file {p} must hold a mapping of settings")
    return d


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def differences(saved: TrainConfig, new: TrainConfig) -> list[str]:
    """Settings that differ and may not change on resume, as 'key: old -> new'."""
    a, b = flatten(saved.to_dict()), flatten(new.to_dict())
    keys = [k for k in sorted(set(a) | set(b)) if k not in RESUMABLE and a.get(k) != b.get(k)]
    pa, pb = sections(a), sections(b)
    out, shown = [], set()
    for k in keys:  # a section on one side only (another objective's): one line, not a key each
        section = one_sided(k, pa, pb)
        if section:
            if section not in shown:
                shown.add(section)
                out.append(f"{section}: {'added' if section not in pa else 'dropped'}")
            continue
        out.append(f"{k}: {a.get(k)!r} -> {b.get(k)!r}")
    return out


def sections(flat: dict) -> set[str]:
    """Every section a flattened config has: "objective", "objective.dfm", ..."""
    return {k.rsplit(".", n)[0] for k in flat for n in range(1, k.count(".") + 1)}


def one_sided(key: str, pa: set[str], pb: set[str]) -> str | None:
    """The outermost section holding ``key`` that only one side's sections hold, if any."""
    parts = key.split(".")
    for n in range(1, len(parts)):
        section = ".".join(parts[:n])
        if (section in pa) != (section in pb):
            return section
    return None

