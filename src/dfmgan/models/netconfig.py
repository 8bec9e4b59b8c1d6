"""What a generator/discriminator pair is, as plain data: no torch here, so a saved
run's config can be read (``dfmgan info``) without importing it."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError

SIZES = (28, 32, 48, 64, 96, 128)


@dataclass
class NetConfig:
    """What a generator/discriminator pair is; saved beside every snapshot."""

    size: int = 32
    channels: int = 3
    nz: int = 100
    latent: str = "uniform"  # "uniform" in [-1, 1] (the paper) or "normal"
    g_width: int = 64  # channels of G's last hidden layer
    d_width: int = 64  # channels of D's first layer
    bn_affine: bool = True  # False: BatchNorm without scale/bias (DCGAN suppl., MNIST)
    n_classes: int = 0  # > 0 for the conditional DCGAN
    # D's normalisation, a name in ``models.d_norms``: "batch" (DCGAN), "spectral" (SNGAN),
    # "none", ...; checked by ``presets.check_names`` and when D is built
    d_norm: str = "batch"

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ConfigError(f"unsupported image size {self.size}; choose one of {list(SIZES)}")
        if self.channels not in (1, 3):
            raise ConfigError(f"unsupported channel count {self.channels}; use 1 or 3")
        if self.latent not in ("uniform", "normal"):
            raise ConfigError(f"unknown latent distribution {self.latent!r}; use uniform or normal")
        if not isinstance(self.d_norm, str):
            raise ConfigError(f"net.d_norm must be a name, got {self.d_norm!r}")
        if min(self.g_width, self.d_width, self.nz) < 1:
            raise ConfigError("g_width, d_width and nz must be positive")

    def to_dict(self) -> dict:
        return asdict(self)
