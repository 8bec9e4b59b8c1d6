"""Layer normalisation in D (Ba et al. 2016), as WGAN-GP's critic uses it in place of
BatchNorm (Gulrajani et al. 2017, §4): each inner block's output normalised over (C, H, W)
image by image, then a learnt per-channel scale and shift. Nothing is shared across a
batch, so real and generated images never see each other's statistics."""
from __future__ import annotations

from torch import nn

from ..cites import bib
from .d_norms import DNorm, register_d_norm


@register_d_norm
class Layer(DNorm):
    name, summary, conv_bias = "layer", "layer norm per image over (C, H, W) (WGAN-GP)", False
    cites = bib("ba2016layer", "Layer Normalization", "Ba, Jimmy Lei and Kiros, Jamie Ryan and "
                "Hinton, Geoffrey E.", "arXiv:1607.06450", 2016, kind="article")

    def layers(self, channels, cfg):
        return [nn.GroupNorm(1, channels, affine=cfg.bn_affine)]  # one group: all of (C, H, W)
