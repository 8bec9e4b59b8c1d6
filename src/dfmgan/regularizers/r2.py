"""R2 (Mescheder et al. 2018, eq. 10; R3GAN, Huang, Gokaslan, Kuleshov & Tompkin, NeurIPS
2024, eq. 5): the zero-centred gradient penalty on generated data,

    R2 = γ/2 · E_z ‖∇ D(G(z))‖²,

with G(z) a constant (detached): the penalty trains D only."""
from __future__ import annotations

from ..cites import R3GAN
from . import Term, grad_sq_norm, register_term


@register_term
class R2(Term):
    """R2: γ/2 E‖∇D(G(z))‖² on generated data (Mescheder et al. 2018)"""

    name = "r2"
    summary = "zero-centred gradient penalty on generated data, γ/2 E‖∇D(G(z))‖² (Mescheder et al. 2018)"
    cites = R3GAN
    side = "generated"

    def penalty(self, view, images):
        return grad_sq_norm(view, images).mean() / 2
