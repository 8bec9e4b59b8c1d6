"""An exponential moving average of G's weights (Yazıcı et al. 2019; as StyleGAN, BigGAN
and StudioGAN keep it). The half-life is given in images, as in edm2: after every step
of B images,

    θ_ema ← β θ_ema + (1 − β) θ,   β = 0.5 ** (B / half_life).

BatchNorm: G's running statistics are *copied* into the EMA net at every update, not
averaged (StyleGAN2-ADA does the same). Samples are drawn in batch mode by default, where
the EMA net normalises with the statistics of its own activations and the buffers play no
part; for ``--bn running`` the copied buffers are those of the current G, close to the
EMA's when the half-life is short next to the run (and ``sampling.frozen_bn`` recomputes
exact ones for the latent tools). The EMA never feeds back into training: a run with and
without it trains the same G, bit for bit.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class GeneratorEMA:
    def __init__(self, G: nn.Module, half_life_images: float, batch_size: int):
        if not half_life_images > 0:
            raise ValueError("the EMA half-life must be positive")
        self.net = copy.deepcopy(G).eval().requires_grad_(False)
        self.half_life = float(half_life_images)
        self.beta = 0.5 ** (batch_size / self.half_life)

    @torch.no_grad()
    def update(self, G: nn.Module) -> None:
        ema, raw = list(self.net.parameters()), list(G.parameters())
        torch._foreach_lerp_(ema, raw, 1.0 - self.beta)  # ema += (1 - β)(raw - ema)
        for b_ema, b in zip(self.net.buffers(), G.buffers()):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        return self.net.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state)
