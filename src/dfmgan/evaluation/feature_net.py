"""What every feature network is (the bundled classifiers in ``features.py``, the standard
Inception network in ``inception.py``): uint8 images in, ``Features`` out. Its own module
so that both import it and neither imports the other."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Features:
    pool: torch.Tensor  # (N, F) float64
    logits: torch.Tensor | None  # (N, K) float64, or None when the net has no classifier


class FeatureNet(nn.Module):
    """A named, hashed feature network: ``forward(x prepared) -> (pool, logits)``."""

    name: str = ""
    choice: str = ""  # the --feature-net value that picks it
    input_size: int = 299  # the side its input is resized to (bundled nets: their own)
    batch: int = 500  # images per forward pass in `extract` on the CPU
    gpu_batch: int = 500  # and on a GPU
    sha256: str = ""
    classes: list[str] | None = None
    has_logits = True  # forward gives class logits (the Inception score, class coverage)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:  # uint8 -> the net's input
        raise NotImplementedError

    def provenance(self) -> dict:
        return {"feature_net": self.name, "feature_net_sha256": self.sha256}
