"""The de-duplication autoencoder of DCGAN §4.1.1 (Radford et al., ICLR 2016): a
3072-128-3072 (1024-128-1024 for grey) denoising, dropout-regularised ReLU autoencoder
on 32×32 centre crops. Its code layer, thresholded at zero, is a 128-bit semantic hash
(Salakhutdinov & Hinton 2009; binarising ReLU codes after Srivastava et al. 2014)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..errors import ConfigError


@dataclass(frozen=True)
class AutoencoderConfig:
    """What a hashing autoencoder is; saved beside its snapshot."""

    size: int = 32
    channels: int = 3
    code: int = 128  # bits of the hash
    dropout: float = 0.5  # on the code layer while training

    def __post_init__(self) -> None:
        if self.channels not in (1, 3) or min(self.size, self.code) < 1:
            raise ConfigError(f"bad autoencoder shape {self.channels}x{self.size}x{self.size} "
                              f"-> {self.code}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"--dropout {self.dropout}: must be in [0, 1)")

    @property
    def n_in(self) -> int:
        return self.channels * self.size * self.size

    def to_dict(self) -> dict:
        return asdict(self)


class HashAutoencoder(nn.Module):
    """(B, C, 32, 32) in [-1, 1] -> reconstruction (B, C*32*32); ``bits`` gives the hash."""

    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = nn.Linear(cfg.n_in, cfg.code)
        self.drop = nn.Dropout(cfg.dropout)
        self.decoder = nn.Linear(cfg.code, cfg.n_in)  # linear output: targets are in [-1, 1]
        # The data's mean image, subtracted before encoding: without it the shared
        # background pushes many code units below zero for every image, and a unit that
        # never fires is a hash bit that is always 0.
        self.register_buffer("center", torch.zeros(cfg.n_in))

    def preactivation(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, code): the code layer before its ReLU, in ``x``'s dtype."""
        w, b, c = (t.to(x.dtype) for t in (self.encoder.weight, self.encoder.bias, self.center))
        return nn.functional.linear(x.flatten(1) - c, w, b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.preactivation(x))  # (B, code)
        return self.decoder(self.drop(h))  # (B, C*H*W)

    @torch.no_grad()
    def bits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, code) bool: which ReLUs fire, i.e. the code thresholded at 0.

        In float64 so that an image's hash does not depend on its batch: float32 GEMM
        kernels differ by batch size in the last bits, which could flip a bit sitting at 0
        and split two exact copies."""
        return self.preactivation(x.double()) > 0
