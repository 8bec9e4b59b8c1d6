"""Least-squares GAN (Mao et al. 2017, *Least Squares Generative Adversarial Networks*,
eq. 2 with a = 0, b = 1, c = 1): D regresses real images to 1 and generated ones to 0,
    L_D = ½ E (D(x) - 1)² + ½ E D(G(z))²,
and G pulls D's output on its images to 1,
    L_G = ½ E (D(G(z)) - 1)²,
on D's raw output (no sigmoid). Its gradient does not vanish for generated samples that D
already rates as fake but far from the boundary, which the non-saturating loss does."""
from __future__ import annotations

from ..cites import bib
from .adversarial import Adversarial, register_adversarial


@register_adversarial
class LeastSquares(Adversarial):
    """Mao et al. 2017's least-squares loss: D and G regress D's output to 0/1 targets"""

    name = "least-squares"
    cites = bib("mao2017least", "Least Squares Generative Adversarial Networks", "Mao, Xudong and "
                "Li, Qing and Xie, Haoran and Lau, Raymond Y. K. and Wang, Zhen and Smolley, "
                "Stephen Paul", "International Conference on Computer Vision (ICCV)", 2017)

    def d_loss(self, d_real, d_fake):
        return 0.5 * (d_real - 1).pow(2).mean() + 0.5 * d_fake.pow(2).mean()

    def g_loss(self, d_fake, d_real=None):
        return 0.5 * (d_fake - 1).pow(2).mean()
