"""Named setups with the papers' hyperparameters.

DCGAN (Radford et al. 2016, §4): Adam 2e-4, β1 0.5, batch 128, N(0, 0.02) init.
  * lsun-bedroom-64: the 64 px LSUN net of Figure 1 (1024 -> 512 -> 256 -> 128 -> 3).
  * imagenet32: the 32 px ImageNet-1k net on centre crops (512 -> 256 -> 128).
  * mnist: BatchNorm without scale/bias, which the supplement found better there.
DFM (Warde-Farley & Bengio 2017, §4), with ``--objective dfm``:
  * cifar10: the half-width 32 px DCGAN net (256 -> 128 -> 64).
  * stl10-48: the unlabeled 100k at 48 px.
"""
from __future__ import annotations

from dataclasses import asdict

from .config import ConfigError, TrainConfig, from_dict, merge, migrate
from .data import facts
from .models.netconfig import BN_MODES
from .objectives import OBJECTIVES, objective_class


def _p(name: str, size: int, ch: int, width: int, **extra) -> dict:
    net = {"size": size, "channels": ch, "g_width": width, "d_width": width}
    net.update(extra.pop("net", {}))
    return merge({"data": {"name": name}, "net": net}, extra)


PRESETS: dict[str, dict] = {
    # The embedded default: recognisable digits in ~2.5 minutes on 2 CPU cores (BENCHMARKS.md).
    "digits": _p("digits", 28, 1, 32, batch_size=64, steps=3000, sample_every=500,
                 checkpoint_every=500),
    "mnist": _p("mnist", 28, 1, 64, net={"bn_affine": False}, steps=10_000),
    # Sized for a 2-core CPU: width 32 keeps DFM's denoiser (n_h = 2048) affordable. An EMA
    # of G, half-life 10k images: it beat the raw G at 2.5k, 5k and 10k steps on the mean of
    # gan, gan-sim and dfm, and at 10k in all 9 runs (BENCHMARKS.md, learning curves).
    "fashion-mnist": _p("fashion-mnist", 32, 1, 32, steps=3000, sample_every=250,
                        checkpoint_every=250, ema=10_000),
    # The 1,000-mode stacked sets (PacGAN's protocol: 128k training images, 26k samples
    # scored by `modes`); the nets of the matching grey preset, with three channels.
    "stacked-fashion-mnist": _p("stacked-fashion-mnist", 32, 3, 32, steps=3000,
                                sample_every=250, checkpoint_every=250,
                                eval_n=facts("stacked-fashion-mnist").size_of("test")),
    "stacked-mnist": _p("stacked-mnist", 28, 3, 64, steps=10_000,
                        eval_n=facts("stacked-mnist").size_of("test")),
    "stacked-digits": _p("stacked-digits", 28, 3, 32, batch_size=64, steps=3000,
                         eval_n=facts("stacked-digits").size_of("test")),
    # Diverse colour data on every Debian machine (openclipart-png + the colour emoji font):
    # the fashion-mnist preset's nets with three channels. Letterboxed (data.fit pad) onto
    # white: these are objects on empty canvases, and the centre crop cut them (docs/).
    "clipart-32": _p("clipart", 32, 3, 32, steps=10_000, sample_every=500,
                     checkpoint_every=250, data={"fit": "pad"}),
    # DCGAN's 64 px architecture (four strided layers each way) at width 32 (256 -> 128 ->
    # 64 -> 32), not the paper's 128: a 2-core CPU's budget; --g-width/--d-width 128 for it
    "clipart-64": _p("clipart", 64, 3, 32, steps=10_000, sample_every=500,
                     checkpoint_every=250, data={"fit": "pad"}),
    "svhn": _p("svhn", 32, 3, 64, steps=20_000),
    # The wide presets keep dfm's default λ (×1,000 × 0.03/n_h). Trained at width 64 (3 seeds,
    # 1,000 steps on Fashion-MNIST) it beat the GAN on every seed, and neither λ ×2,000 nor a
    # gradient share beat it beyond the seeds' spread (BENCHMARKS.md, "Trained at width 64");
    # width 128 is unmeasured. dfm/grad_ratio on the bar shows how strongly G feels r.
    "cifar10": _p("cifar10", 32, 3, 64, steps=100_000),
    "stl10-48": _p("stl10", 48, 3, 64, epochs=50),
    # DFM's ImageNet denoiser: 10 hidden layers of 2,048 ReLUs (for --objective dfm; a
    # preset's settings of other objectives than the one chosen are left out)
    "imagenet32": _p("folder", 32, 3, 128, steps=200_000,
                     objective={"dfm": {"denoiser": {"depth": 10, "width": 2048}}}),
    "lsun-bedroom-64": _p("lsun", 64, 3, 128, steps=300_000),
    "faces-64": _p("folder", 64, 3, 128, steps=50_000),
}

def preset_dict(name: str) -> dict:
    if not isinstance(name, str) or name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return merge(PRESETS[name], {"preset": name})


def explicit_steps(layer: dict) -> dict:
    """A layer that sets ``steps`` and not ``epochs`` clears any ``epochs`` below it (a
    preset's): an explicit --steps always wins. Both in one layer is a conflict."""
    if "steps" not in layer:
        return layer
    if layer.get("epochs") is not None:
        raise ConfigError("give steps or epochs, not both (epochs sets steps from the data's size)")
    return {**layer, "epochs": None}


def build_config(preset: str | None = None, file: dict | None = None,
                 overrides: dict | None = None, base: dict | None = None) -> TrainConfig:
    """defaults (or ``base``, a saved run's config) < preset < file < overrides."""
    d = migrate(base) if base is not None else TrainConfig().to_dict()
    data = (overrides or {}).get("data", {}).get("name") or (file or {}).get("data", {}).get("name")
    if preset is None and base is None and (info := facts(data)) is not None:
        preset = info.preset  # a dataset named without a preset takes the one made for it
    layers = [migrate(layer) for layer in
              (preset_dict(preset) if preset else {}, file or {}, overrides or {})]
    name = next((l["objective"]["name"] for l in reversed(layers) if isinstance(
        l.get("objective"), dict) and "name" in l["objective"]), d["objective"]["name"])
    layers[0] = only_own(layers[0], name)
    layers = [for_objective(layer, name) for layer in layers]
    if base is None:  # a resumed run keeps what it resolved to
        layers.insert(1, objective_class(name).defaults)
    for layer in layers:
        d = merge(d, explicit_steps(layer))
    return check_names(from_dict(d))


def for_objective(layer: dict, name: str) -> dict:
    """``layer`` without the scheme, family and own settings it gives for another objective
    than ``name``: a run's config.json used as ``--config`` to branch it with another
    ``--objective`` names its old objective's resolved scheme, which is not the new one's."""
    obj = layer.get("objective")
    if not isinstance(obj, dict) or obj.get("name", name) == name:
        return layer
    kept = {k: v for k, v in obj.items() if k not in ("scheme", "adversarial", obj["name"])}
    return {**layer, "objective": {**kept, "name": name}}


def only_own(preset: dict, name: str) -> dict:
    """A preset without the sections it holds for objectives other than ``name``."""
    objective = {k: v for k, v in preset.get("objective", {}).items()
                 if k == name or k not in OBJECTIVES}
    return {**preset, "objective": objective} if "objective" in preset else preset


def check_names(cfg: TrainConfig) -> TrainConfig:
    """Every name a config holds is one the registries know: checked before any work."""
    from .data import dataset_info, options_of
    from .models.d_norms import d_norm
    from .objectives.adversarial import family
    from .objectives.augment import parse_policy

    cls = objective_class(cfg.objective.name)
    own = cls.settings(cfg.objective.own)
    cfg.objective.own = asdict(own)  # typed, checked and complete: config.json shows it all
    # the values in effect, and a pair the objective cannot work with refused here
    cfg.objective.scheme, cfg.objective.adversarial = cls.resolve(cfg.objective)
    family(cfg.objective.adversarial)
    parse_policy(cfg.objective.augment)
    d_norm(cfg.net.d_norm)
    dataset_info(cfg.data.name)
    options_of(cfg.data)  # fit and background
    if cfg.sample_bn not in BN_MODES:
        raise ConfigError(f"sample_bn must be batch or running, got {cfg.sample_bn!r}")
    check_device(cfg.device)
    return cfg


def check_device(name) -> None:
    """The form of a device string (auto, cpu, cuda, cuda:N, mps); whether it exists is
    asked when the run starts (``devices.resolve_device``)."""
    import re

    if not isinstance(name, str) or not re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]{1,3})?", name):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
