"""Feature matching (Salimans et al. 2016, §3.1; eq. 10 of the DFM paper): G matches
the mean of D's features on real data, on the same layer Φ that DFM uses,
    L_G = || E_x Φ(x) - E_z Φ(G(z)) ||²
with the real mean held constant. D is trained as in the GAN."""
from __future__ import annotations

from dataclasses import dataclass

from ..cites import NEURIPS, bib
from .base import Objective, register_objective
from .features import FEATURE_LAYER, LAYER_RANGE, ReadsFeatures, feature_dim, phi


@dataclass
class FMSettings:
    """objective.fm.*"""

    feature_layer: int = FEATURE_LAYER  # which D block is Φ (features.py)


@register_objective
class FeatureMatchingObjective(ReadsFeatures, Objective):
    name = "fm"
    cites = bib("salimans2016improved", "Improved Techniques for Training {GAN}s", "Salimans, Tim "
                "and Goodfellow, Ian and Zaremba, Wojciech and Cheung, Vicki and Radford, Alec and "
                "Chen, Xi", NEURIPS, 2016)
    summary = "feature matching (Salimans et al. 2016): ||E Φ(x) - E Φ(G(z))||² instead"
    needs_real_for_g = True
    Settings = FMSettings
    RANGES = LAYER_RANGE

    def __init__(self, G, D, cfg, optim):
        super().__init__(G, D, cfg, optim)
        feature_dim(D, self.own.feature_layer)  # validates the layer

    def g_loss(self, fake, real):
        layer = self.own.feature_layer
        diff = phi(real, layer).detach().mean(0) - phi(fake, layer).mean(0)  # (n_h,)
        loss = diff.pow(2).sum()
        return loss, {"fm/distance": loss}
