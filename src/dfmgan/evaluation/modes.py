"""Mode-coverage metrics for 2-D Gaussian mixtures, as in VEEGAN (Srivastava et al. 2017)
and PacGAN (Lin et al. 2018): each sample goes to its nearest centre; it is of high
quality when within 3σ of it; a mode is covered when it receives a high-quality sample;
the reverse KL compares the modes' share of the high-quality samples with the uniform
mixture, KL(p_gen || p_true)."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch


def ring(n_modes: int = 8, radius: float = 1.0) -> torch.Tensor:
    """(n_modes, 2) centres on a circle; PacGAN's 2D-ring uses σ = 0.01."""
    a = torch.arange(n_modes, dtype=torch.float64) * 2 * math.pi / n_modes
    return torch.stack([radius * torch.cos(a), radius * torch.sin(a)], 1)


def grid(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """(side², 2) centres at -4..4 for side 5; PacGAN's 2D-grid uses σ = 0.05."""
    r = [spacing * (i - (side - 1) / 2) for i in range(side)]
    return torch.tensor(list(itertools.product(r, r)), dtype=torch.float64)


def sample_mixture(centres: torch.Tensor, std: float, n: int, generator=None) -> torch.Tensor:
    idx = torch.randint(len(centres), (n,), generator=generator)
    return (centres[idx] + std * torch.randn(n, 2, generator=generator, dtype=torch.float64)).float()


@dataclass
class ModeReport:
    modes: int  # covered
    high_quality: float  # fraction of samples within 3σ of a centre
    reverse_kl: float
    counts: list[int]


def mode_report(samples: torch.Tensor, centres: torch.Tensor, std: float,
                threshold: float = 3.0) -> ModeReport:
    d = torch.cdist(samples.double(), centres.double())  # (N, K)
    dist, nearest = d.min(1)
    good = dist < threshold * std
    counts = torch.bincount(nearest[good], minlength=len(centres))
    total = counts.sum().item()
    p = counts.double() / max(total, 1)
    q = 1.0 / len(centres)
    kl = float((p[p > 0] * (p[p > 0] / q).log()).sum()) if total else float("inf")
    return ModeReport(int((counts > 0).sum()), good.double().mean().item(), kl, counts.tolist())
