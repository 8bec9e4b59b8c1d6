"""The relativistic pairing GAN (RpGAN; Jolicoeur-Martineau 2019, §3; the loss of R3GAN,
Huang, Gokaslan, Kuleshov & Tompkin, NeurIPS 2024, eq. 2): D judges each real image against
one generated image, paired by position in the batch,

    L_D = E softplus(−(D(xᵢ) − D(G(zᵢ))))
    L_G = E softplus(−(D(G(zᵢ)) − D(xᵢ)))

with D(x) constants in G's loss. Unlike the relativistic *average* family
(``relativistic.py``), no batch mean enters: every pair is its own comparison, which R3GAN
shows removes mode dropping when paired with R1 and R2 (``--r1 γ --r2 γ``; the ``r3``
objective sets all three). G's loss reads the real side, so ``needs_real``. Composes with
gan, fm and dfm; real and generated batches are the same size in every scheme."""
from __future__ import annotations

import torch.nn.functional as F

from ..cites import R3GAN
from .adversarial import Adversarial, register_adversarial


@register_adversarial
class RelativisticPairing(Adversarial):
    """relativistic pairing (RpGAN, R3GAN's loss): softplus(−(D(x) − D(G(z)))) over pairs"""

    name = "rpgan"
    cites = R3GAN
    needs_real = True

    def d_loss(self, d_real, d_fake):
        return F.softplus(-(d_real - d_fake)).mean()  # (B,) pairs -> 0-d

    def g_loss(self, d_fake, d_real=None):
        if d_real is None:
            raise ValueError("the relativistic pairing loss needs D's logits on the real batch")
        return F.softplus(-(d_fake - d_real.detach())).mean()
