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

from .config import ConfigError, merge
from .data import facts
from .objectives import OBJECTIVES


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


def only_own(preset: dict, name: str) -> dict:
    """A preset without the sections it holds for objectives other than ``name``."""
    objective = {k: v for k, v in preset.get("objective", {}).items()
                 if k == name or k not in OBJECTIVES}
    return {**preset, "objective": objective} if "objective" in preset else preset


