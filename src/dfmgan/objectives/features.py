"""Which of D's features an objective reads: Φ = one block of ``D.features``,
flattened. Block -1, after its nonlinearity, is the penultimate layer (DFM §3)."""
from __future__ import annotations

import torch

from ..errors import ConfigError
from ..models import DFeatures


def phi(feats: DFeatures, layer: int) -> torch.Tensor:
    """(B, C, H, W) block or (B, H) layer -> (B, n_h)."""
    return feats.blocks[layer].flatten(1)


def feature_dim(D, layer: int) -> int:
    dims = D.feature_dims()
    if not -len(dims) <= layer < len(dims):
        raise ConfigError(f"feature_layer {layer} does not exist: D has {len(dims)} blocks")
    return dims[layer]
