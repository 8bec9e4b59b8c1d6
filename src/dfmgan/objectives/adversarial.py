"""Adversarial loss families (cf. compare_gan's ``loss_lib``): D's loss and G's adversarial
loss, each on D's logits of both sides, the real batch and G(z). Objectives add
their own G terms (DFM, feature matching) on top of whichever family is chosen
(``objective.adversarial``), so every term composes with every family.

A new family is one class here (or in its own module) with ``@register_adversarial``; the
CLI's ``--adversarial`` choices and help come from this registry."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..cites import GAN, bib
from ..discovery import class_registry, lookup

Stats = dict[str, torch.Tensor]
ADVERSARIAL, register_adversarial = class_registry()  # --adversarial NAME


class Adversarial:
    """One family: ``d_loss(d_real, d_fake)`` and ``g_loss(d_fake, d_real)`` on logits (B,).

    Both see both sides. ``needs_real`` says whether ``g_loss`` reads ``d_real`` (the
    relativistic family does); the update schemes then hand it D's logits on the real
    batch at the parameters G is scored with (after D's step, in the alternating scheme),
    and ``None`` to families that do not read them."""

    name = ""
    cites: str = ""  # BibTeX of its paper (cites.bib)
    needs_real = False
    objectives: tuple[str, ...] = ()  # the objectives it works with; () = any

    def d_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, d_fake: torch.Tensor, d_real: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def d_stats(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> Stats:
        """D's view of each batch, as a probability (σ of the logit) for every family."""
        return {"D(x)": torch.sigmoid(d_real.detach()).mean(),
                "D(G(z))": torch.sigmoid(d_fake.detach()).mean()}


@register_adversarial
class NonSaturating(Adversarial):
    """DCGAN's: D minimises BCE, -log D(x) - log(1 - D(G(z))); G minimises -log D(G(z))
    (Goodfellow et al. 2014, §3), on logits via softplus."""

    name = "non-saturating"
    cites = GAN

    def d_loss(self, d_real, d_fake):
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()

    def g_loss(self, d_fake, d_real=None):
        return F.softplus(-d_fake).mean()


@register_adversarial
class Hinge(Adversarial):
    """SNGAN's and BigGAN's (Lim & Ye 2017; Miyato et al. 2018, eq. 17): D minimises
    E max(0, 1 - D(x)) + E max(0, 1 + D(G(z))); G minimises -E D(G(z))."""

    name = "hinge"
    cites = bib("lim2017geometric", "Geometric {GAN}", "Lim, Jae Hyun and Ye, Jong Chul",
                "arXiv:1705.02894", 2017, kind="article")

    def d_loss(self, d_real, d_fake):
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()

    def g_loss(self, d_fake, d_real=None):
        return -d_fake.mean()


def family(name: str) -> Adversarial:
    return lookup(ADVERSARIAL, name, "adversarial loss")()
