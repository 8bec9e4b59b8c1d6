"""WGAN-GP (Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, NeurIPS 2017, *Improved
Training of Wasserstein GANs*, Algorithm 1), as one objective with its loss family:

    L_D = E D(G(z)) - E D(x) + λ E (‖∇_x̂ D(x̂)‖₂ - 1)²,   x̂ = ε x + (1 - ε) G(z), ε ~ U[0, 1]
    L_G = -E D(G(z))

with the paper's λ = 10, n_critic = 5 critic steps per generator step (each on its own real
batch and latents), Adam(1e-4, β1 = 0, β2 = 0.9), and a critic without BatchNorm (the paper
uses layer normalisation: ``net.d_norm layer``), all set by choosing ``--objective
wgan-gp``, or ``{"objective": {"name": "wgan-gp"}}`` in a mapping ``train`` is given. The penalty takes a third pass of D, on x̂, through the same ``view`` as every
other pass (DiffAugment included), and differentiates its input gradient (create_graph).

The objective declares what it works with: the ``wasserstein`` family only (a bounded
family's logits are not a critic's) and the alternating scheme (its critic steps come
first); any other pair is refused when the config is checked, before any file exists."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..cites import NEURIPS, bib
from .adversarial import Adversarial, register_adversarial
from .base import Objective, register_objective


@register_adversarial
class Wasserstein(Adversarial):
    """the Wasserstein critic (Arjovsky et al. 2017): D(x) up, D(G(z)) down, unbounded; for wgan-gp"""

    name = "wasserstein"
    objectives = ("wgan-gp",)  # unbounded without the penalty: no other objective uses it

    def d_loss(self, d_real, d_fake):
        return d_fake.mean() - d_real.mean()

    def g_loss(self, d_fake, d_real=None):
        return -d_fake.mean()


@dataclass
class WGANGPSettings:
    """objective.wgan-gp.*: the paper's values."""

    gp_weight: float = 10.0  # λ of the gradient penalty
    n_critic: int = 5  # critic steps per generator step


@register_objective
class WGANGPObjective(Objective):
    name = "wgan-gp"
    cites = bib("gulrajani2017improved", "Improved Training of {W}asserstein {GAN}s", "Gulrajani, "
                "Ishaan and Ahmed, Faruk and Arjovsky, Martin and Dumoulin, Vincent and Courville, "
                "Aaron", NEURIPS, 2017)
    summary = ("WGAN-GP (Gulrajani et al. 2017): a Wasserstein critic with a gradient penalty "
               "of 10, 5 critic steps per G step, Adam(1e-4, 0, 0.9), a layer-normalised D")
    adversarial = "wasserstein"
    families = ("wasserstein",)
    schemes = ("alternating",)
    defaults = {"optim": {"lr": 1e-4, "beta1": 0.0, "beta2": 0.9}, "net": {"d_norm": "layer"}}
    Settings = WGANGPSettings
    RANGES = {"gp_weight": (0.0, 1e6), "n_critic": (1, 100)}

    def __init__(self, G, D, cfg, optim):
        super().__init__(G, D, cfg, optim)
        self.gp = torch.zeros(())

    @property
    def d_steps(self) -> int:
        return self.own.n_critic

    def d_loss(self, real, fake, x, gen, labels):
        self.gp = gradient_penalty(lambda t: self.view(t, labels).logits, x, gen)
        return self.adv.d_loss(real.logits, fake.logits) + self.own.gp_weight * self.gp

    def g_loss(self, fake, real):
        loss, stats = super().g_loss(fake, real)
        return loss, {**stats, "wgan/gp": self.gp.detach()}


def gradient_penalty(critic, x: torch.Tensor, gen: torch.Tensor) -> torch.Tensor:
    """E (‖∇ critic(x̂)‖₂ - 1)² over x̂ on random points between x and G(z) (B, C, H, W),
    one ε per image; differentiable in the critic's parameters."""
    eps = torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)
    x_hat = (eps * x.detach() + (1 - eps) * gen.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
