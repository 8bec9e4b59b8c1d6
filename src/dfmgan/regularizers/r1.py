"""R1 (Mescheder, Geiger & Nowozin, ICML 2018, *Which Training Methods for GANs do actually
Converge?*, eq. 9): a zero-centred gradient penalty on real data,

    R1 = γ/2 · E_x ‖∇ₓ D(x)‖²,

which keeps D flat on the data so that the game converges locally; R3GAN (Huang et al. 2024)
pairs it with R2."""
from __future__ import annotations

from ..cites import bib
from . import Term, grad_sq_norm, register_term


@register_term
class R1(Term):
    """R1: γ/2 E‖∇D(x)‖² on real data (Mescheder et al. 2018)"""

    name = "r1"
    summary = "zero-centred gradient penalty on real data, γ/2 E‖∇D(x)‖² (Mescheder et al. 2018)"
    cites = bib("mescheder2018which", "Which Training Methods for {GAN}s do actually Converge?",
                "Mescheder, Lars and Geiger, Andreas and Nowozin, Sebastian", "ICML", 2018)
    side = "real"

    def penalty(self, view, images):
        return grad_sq_norm(view, images).mean() / 2
