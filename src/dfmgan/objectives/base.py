"""The one interface the training loop calls.

An objective owns the losses of its networks and their updates (cf. stylegan3's
``loss.accumulate_gradients``): the loop hands it a real batch and latents and gets
back detached scalar statistics. Objectives differ in what they compute, never in
how the loop calls them, so adding one means adding a class, not a branch.
"""
from __future__ import annotations

import abc
import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ObjectiveConfig, OptimConfig
from ..errors import ConfigError
from ..models import Discriminator, Generator


def adam(module: nn.Module, cfg: OptimConfig) -> torch.optim.Adam:
    return torch.optim.Adam(module.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """No parameter gradients for ``modules`` inside the block: G's loss then cannot
    leave gradients in D (or the denoiser), and the weight-gradient work is skipped."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """BCE of D: -log D(x) - log(1 - D(G(z))), on logits (B,)."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def g_adv_loss(d_gen: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss -log D(G(z)) (Goodfellow et al. 2014, §3)."""
    return F.softplus(-d_gen).mean()


def d_stats(d_real: torch.Tensor, d_fake: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"D(x)": torch.sigmoid(d_real.detach()).mean(),
            "D(G(z))": torch.sigmoid(d_fake.detach()).mean()}


class Objective(abc.ABC):
    name: str = ""
    schemes: tuple[str, ...] = ("alternating",)

    def __init__(self, G: Generator, D: Discriminator, cfg: ObjectiveConfig, optim: OptimConfig):
        if cfg.scheme not in self.schemes:
            raise ConfigError(f"objective {self.name!r} supports scheme(s) "
                              f"{', '.join(self.schemes)}, not {cfg.scheme!r}")
        self.G, self.D, self.cfg = G, D, cfg
        self.opt = {"G": adam(G, optim), "D": adam(D, optim)}

    def modules(self) -> dict[str, nn.Module]:
        """Every network this objective trains; all are saved in checkpoints."""
        return {"G": self.G, "D": self.D}

    @abc.abstractmethod
    def step(self, real: torch.Tensor, z: torch.Tensor,
             labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One training step on real (B, C, H, W) in [-1, 1] and z (B, nz).
        Returns detached 0-d tensors (no host sync per step)."""

    def state_dict(self) -> dict:
        return {"modules": {k: m.state_dict() for k, m in self.modules().items()},
                "optimizers": {k: o.state_dict() for k, o in self.opt.items()}}

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.modules().items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.opt.items():
            o.load_state_dict(state["optimizers"][k])
