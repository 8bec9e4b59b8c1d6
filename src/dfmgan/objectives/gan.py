"""The DCGAN baseline: BCE for D, non-saturating -log D(G(z)) for G; alternating
updates by default (D first, then G against the updated D), as in the DCGAN code."""
from __future__ import annotations

from .base import Objective, register_objective


@register_objective
class GANObjective(Objective):
    name = "gan"
    summary = "the DCGAN baseline, G minimises the adversarial term alone (default)"  # the base class's G loss is exactly -log D(G(z))
