"""What a generator/discriminator pair is, as plain data: no torch here, so a saved
run's config can be read (``dfmgan info``) without importing it."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError
from ..given import tracked

LATENTS = ("uniform", "normal")  # z ~ U[-1, 1] (DCGAN) or N(0, 1)
BN_MODES = ("batch", "running")  # BatchNorm when sampling: batch statistics or running

SIZES = (28, 32, 48, 64, 96, 128)
# every whole-number setting's range, both ends included (config.RANGES reads these)
RANGES = {"nz": (1, 16_384), "g_width": (1, 4_096), "d_width": (1, 4_096),
          "n_classes": (0, 100_000)}


# The one home of the default image shape: DCGAN's 64 px RGB net (a data set's preset
# chooses its own; the streamed loaders decode at this size unless told)
DEFAULT_SIZE, DEFAULT_CHANNELS = 64, 3


@tracked
@dataclass
class NetConfig:
    """What a generator/discriminator pair is; saved beside every snapshot."""

    size: int = DEFAULT_SIZE  # image size in px: 28, 32, 48, 64, 96 or 128
    channels: int = DEFAULT_CHANNELS  # 1 (grey) or 3 (RGB)
    nz: int = 100  # dimensions of the latent z
    latent: str = "uniform"  # "uniform" in [-1, 1] (the paper) or "normal"
    g_width: int = 64  # channels of G's last hidden layer
    d_width: int = 64  # channels of D's first layer
    bn_affine: bool = True  # False: BatchNorm without scale/bias (DCGAN suppl., MNIST)
    n_classes: int = 0  # > 0 for the conditional DCGAN
    # D's normalisation, a name in ``models.d_norms``: "batch" (DCGAN), "spectral" (SNGAN),
    # "none", ...; checked by the resolver and when D is built
    d_norm: str = "batch"

    def __post_init__(self) -> None:
        """Every field checked for its type and range, wherever the values come from (a
        config file, a snapshot's metadata, the JSON beside it): nothing is built from
        ``nz`` 1e12, a width of 8.5 or NaN."""
        for name, (lo, hi) in {"size": (0, 10 ** 6), "channels": (0, 10 ** 6), **RANGES}.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ConfigError(f"net.{name} must be a whole number in {lo:,}..{hi:,}, got {v!r}")
        if not isinstance(self.bn_affine, bool):
            raise ConfigError(f"net.bn_affine must be true or false, got {self.bn_affine!r}")
        if not isinstance(self.latent, str):
            raise ConfigError(f"net.latent must be a name, got {self.latent!r}")
        if self.size not in SIZES:
            raise ConfigError(f"unsupported image size {self.size}; choose one of {list(SIZES)}")
        if self.channels not in (1, 3):
            raise ConfigError(f"unsupported channel count {self.channels}; use 1 or 3")
        if self.latent not in LATENTS:
            raise ConfigError(f"unknown latent distribution {self.latent!r}; use {' or '.join(LATENTS)}")
        if not isinstance(self.d_norm, str):
            raise ConfigError(f"net.d_norm must be a name, got {self.d_norm!r}")
        if min(self.g_width, self.d_width, self.nz) < 1:
            raise ConfigError("g_width, d_width and nz must be positive")

    def to_dict(self) -> dict:
        return asdict(self)

    def d_feature_dims(self) -> list[int]:
        """Flattened size of each of D's blocks (``layout``); the last is Φ's size n_h."""
        _, n_up = layout(self.size)
        return [self.d_width * 2 ** i * (self.size // 2 ** (i + 1)) ** 2 for i in range(n_up)]


def layout(size: int) -> tuple[int, int]:
    """(base, n_up): the smallest map edge in 3..7 and how many doublings reach ``size``
    (28 -> 7, 32 -> 4, 48 -> 6, 64 -> 4, 96 -> 6, 128 -> 4)."""
    base, n_up = size, 0
    while base > 7:
        base //= 2
        n_up += 1
    return base, n_up
