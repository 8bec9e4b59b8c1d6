"""R3GAN's loss (Huang, Gokaslan, Kuleshov & Tompkin, NeurIPS 2024, *The GAN is dead; long
live the GAN! A Modern GAN Baseline*, §2) on DCGAN's networks: the relativistic pairing
family (``rpgan.py``) with zero-centred gradient penalties on both sides, R1 on real and R2
on generated data (``regularizers/``), γ = ``GAMMA`` each. R3GAN's architecture (a modern
ResNet) is not taken: this measures the loss, not the network.

DFM on top is ``--objective dfm --adversarial rpgan --r1 γ --r2 γ``: a D-side term composes
with every objective, so no second class is needed."""
from __future__ import annotations

from ..cites import R3GAN
from .base import Objective, register_objective

# chosen by the sweep of γ on clipart-32 (0.01, 0.1, 1, 10; 1,000 steps: FID 29.9, 26.5,
# 27.9, 246.9; docs: results, "Does DFM still help next to a modern GAN loss?"); the
# resolver's objective layer, so a file or --r1/--r2 overrides it
GAMMA = 0.1


@register_objective
class R3Objective(Objective):
    name = "r3"
    summary = (f"R3GAN's loss on DCGAN's nets: relativistic pairing + R1 + R2 (γ = {GAMMA} each; "
               "Huang et al. 2024)")
    adversarial = "rpgan"
    defaults = {"objective": {"r1": GAMMA, "r2": GAMMA}}
    cites = R3GAN
