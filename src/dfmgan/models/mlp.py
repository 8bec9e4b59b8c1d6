"""Small fully connected G and D for 2-D toy data, with the same interface as the
DCGAN nets (``sample_latent``, ``features``, ``feature_dims``) so the same objective
classes train them. Sizes follow PacGAN's synthetic experiments (Lin et al. 2018):
G has 4 hidden layers of 400 ReLUs with BatchNorm, D 3 hidden layers of 200 maxout
units with 5 pieces each."""
from __future__ import annotations

import torch
from torch import nn

from .interface import DFeatures


class Maxout(nn.Module):
    """(B, n_in) -> (B, n_out): the max over ``pieces`` linear maps."""

    def __init__(self, n_in: int, n_out: int, pieces: int):
        super().__init__()
        self.lin, self.n_out, self.pieces = nn.Linear(n_in, n_out * pieces), n_out, pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).view(-1, self.n_out, self.pieces).amax(-1)


def _init(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)


class MLPGenerator(nn.Module):
    def __init__(self, nz: int = 2, n_out: int = 2, width: int = 400, depth: int = 4):
        super().__init__()
        layers, d = [], nz
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.BatchNorm1d(width), nn.ReLU(True)]
            d = width
        self.net = nn.Sequential(*layers, nn.Linear(d, n_out))
        self.nz = nz
        self.apply(_init)

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        return self.net(z)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.nz, generator=generator)


class MLPDiscriminator(nn.Module):
    def __init__(self, n_in: int = 2, width: int = 200, depth: int = 3, pieces: int = 5):
        super().__init__()
        dims = [n_in] + [width] * depth
        self.blocks = nn.ModuleList(Maxout(a, b, pieces) for a, b in zip(dims[:-1], dims[1:]))
        self.head = nn.Linear(width, 1)
        self.width = width
        self.apply(_init)

    def feature_dims(self) -> list[int]:
        return [self.width] * len(self.blocks)

    def features(self, x: torch.Tensor, labels=None) -> DFeatures:
        h, out = x, []
        for block in self.blocks:
            h = block(h)
            out.append(h)  # (B, width)
        return DFeatures(self.head(h).flatten(), out, x)

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return self.features(x).logits
