"""DFM's denoising autoencoder r on discriminator features (Warde-Farley & Bengio,
ICLR 2017, §3): a fully connected ReLU network with BatchNorm on every layer but the
output, trained to undo Gaussian corruption of Φ(x). By Alain & Bengio (2014),
r(Φ) - Φ then points along the score ∂ log p(Φ)/∂Φ of the real features."""
from __future__ import annotations

import torch
from torch import nn

from .init import dcgan_init


class Denoiser(nn.Module):
    """(B, n_in) -> (B, n_in); ``depth`` hidden layers of ``width`` units."""

    def __init__(self, n_in: int, depth: int = 2, width: int = 0):
        super().__init__()
        width = width or n_in
        layers: list[nn.Module] = []
        d = n_in
        for _ in range(depth):
            # no bias before BatchNorm: its β does that job
            layers += [nn.Linear(d, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(True)]
            d = width
        layers.append(nn.Linear(d, n_in))  # the output: no BatchNorm, no nonlinearity
        self.net = nn.Sequential(*layers)
        self.n_in = n_in
        self.apply(dcgan_init)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


def corrupt(h: torch.Tensor, sigma: float) -> torch.Tensor:
    """C(h) = h + σ ε, ε ~ N(0, I)."""
    return h + sigma * torch.randn_like(h) if sigma > 0 else h


def annealed_sigma(sigma: float, anneal_steps: int, step: int) -> float:
    """σ, or σ decaying linearly to 0 over ``anneal_steps`` (the paper tried annealing)."""
    if anneal_steps <= 0:
        return sigma
    return sigma * max(0.0, 1.0 - step / anneal_steps)
