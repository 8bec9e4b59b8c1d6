"""The relativistic average GAN (Jolicoeur-Martineau, ICLR 2019, *The relativistic
discriminator: a key element missing from standard GAN*, §4, RaSGAN): D judges whether a
real image is more realistic than the average generated one, and the reverse,

    L_D = -E_x log σ(C(x) - E_f C(f)) - E_f log(1 - σ(C(f) - E_x C(x)))
    L_G = -E_f log σ(C(f) - E_x C(x)) - E_x log(1 - σ(C(x) - E_f C(f)))

with C the critic's logit, f = G(z), and -log σ(a) = softplus(-a), -log(1 - σ(a)) =
softplus(a). G's loss reads both sides, so the family declares ``needs_real``; the real
logits are constants for G (D is frozen in G's step). Composes with gan, fm and dfm."""
from __future__ import annotations

import torch.nn.functional as F

from ..cites import ICLR, bib
from .adversarial import Adversarial, register_adversarial


@register_adversarial
class RelativisticAverage(Adversarial):
    """the relativistic average GAN (Jolicoeur-Martineau 2019): each side judged against the other's mean"""

    name = "relativistic"
    cites = bib("jolicoeur2019relativistic", "The Relativistic Discriminator: a Key Element Missing "
                "from Standard {GAN}", "Jolicoeur-Martineau, Alexia", ICLR, 2019)
    needs_real = True

    def d_loss(self, d_real, d_fake):
        return F.softplus(-(d_real - d_fake.mean())).mean() + F.softplus(d_fake - d_real.mean()).mean()

    def g_loss(self, d_fake, d_real=None):
        if d_real is None:
            raise ValueError("the relativistic loss needs D's logits on the real batch")
        d_real = d_real.detach()
        return F.softplus(-(d_fake - d_real.mean())).mean() + F.softplus(d_real - d_fake.mean()).mean()
