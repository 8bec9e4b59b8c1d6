"""Which of D's features an objective reads: Φ = one block of ``D.features``,
flattened. Block -1, after its nonlinearity, is the penultimate layer (DFM §3)."""
from __future__ import annotations

import torch

from ..errors import ConfigError
from ..models import DFeatures


def phi(feats: DFeatures, layer: int) -> torch.Tensor:
    """(B, C, H, W) block or (B, H) layer -> (B, n_h)."""
    return feats.blocks[layer].flatten(1)


# The one home of Φ's setting, for every objective that reads D's features: its default
# (-1, the penultimate layer, DFM §3) and its range (a block index from either end)
FEATURE_LAYER = -1
LAYER_RANGE = {"feature_layer": (-64, 63)}


def feature_dim(D, layer: int) -> int:
    return pick_layer(D.feature_dims(), layer)


def pick_layer(dims: list[int], layer: int) -> int:
    """n_h of block ``layer`` of a D whose blocks have ``dims``; one line if there is none."""
    if not -len(dims) <= layer < len(dims):
        raise ConfigError(f"objective feature_layer {layer} does not exist: D has {len(dims)} "
                          f"blocks at this size (use {-len(dims)}..{len(dims) - 1})")
    return dims[layer]


class ReadsFeatures:
    """Mixin for an objective whose settings hold ``feature_layer``: the layer is checked
    against D's depth when the config is resolved, before any file or data."""

    @classmethod
    def check(cls, own, cfg) -> None:
        pick_layer(cfg.net.d_feature_dims(), own.feature_layer)
