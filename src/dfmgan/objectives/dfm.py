"""Denoising Feature Matching (Warde-Farley & Bengio, ICLR 2017).

Eq. 4, the denoiser r, trained on real features only, detached from D:
    L_r = || Φ(x) - r(C(Φ(x))) ||²,   C(h) = h + σ ε
Eq. 5, the generator, with r's output held as a constant target:
    L_G = λ_denoise || Φ(G(z)) - r(Φ(G(z))) ||² - λ_adv log D(G(z))
with λ_denoise = 0.03 / n_h by default (n_h = dim Φ) and λ_adv = 1. Since
r(h) - h estimates σ² ∂ log p(h)/∂h, the first term pulls G's features toward higher
density under the real features' distribution. D is trained as in the GAN."""
from __future__ import annotations

import torch

from ..errors import ConfigError
from ..models import Denoiser, annealed_sigma, corrupt
from .base import Objective, g_adv_loss
from .features import feature_dim, phi


class DFMObjective(Objective):
    name = "dfm"

    def __init__(self, G, D, cfg, optim):
        super().__init__(G, D, cfg, optim)
        n_h = feature_dim(D, cfg.feature_layer)
        d = cfg.denoiser
        if d.depth < 1 or d.width < 0 or d.sigma < 0:
            raise ConfigError("denoiser depth must be >= 1, width >= 0 and sigma >= 0")
        self.R = self.add_trainee("R", Denoiser(n_h, d.depth, d.width))
        lam = cfg.lambda_denoise
        if lam is not None and (isinstance(lam, bool) or not isinstance(lam, (int, float))):
            raise ConfigError(f"objective.lambda_denoise must be a number, got {lam!r}")
        self.lambda_denoise = 0.03 / n_h if lam is None else float(lam)

    def g_loss(self, fake, real):
        h = phi(fake, self.cfg.feature_layer)  # (B, n_h), differentiable in G
        with torch.no_grad():  # r(Φ(G(z))): a constant target, own BatchNorm pass
            target = self.R(h.detach())
        sq = (h - target).pow(2).sum(1)  # (B,) ||Φ - r(Φ)||²
        adv = g_adv_loss(fake.logits)
        loss = self.lambda_denoise * sq.mean() + self.cfg.lambda_adv * adv
        return loss, {"loss/G_adv": adv, "dfm/G_denoise": self.lambda_denoise * sq.mean(),
                      "dfm/residual_gen": sq.sqrt().mean()}

    def aux_losses(self, real):
        h = phi(real, self.cfg.feature_layer).detach()  # r never trains D
        d = self.cfg.denoiser
        sigma = annealed_sigma(d.sigma, d.anneal_steps, self.t)
        loss = denoising_loss(self.R, h, sigma)
        return {"R": (loss, {"dfm/denoiser_loss": loss, "dfm/sigma": torch.tensor(sigma)})}


def denoising_loss(R, h: torch.Tensor, sigma: float) -> torch.Tensor:
    """Eq. 4: || h - r(h + σ ε) ||², summed over features, averaged over the batch."""
    return (h - R(corrupt(h, sigma))).pow(2).sum(1).mean()
