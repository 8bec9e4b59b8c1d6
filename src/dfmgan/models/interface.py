"""What the objectives, metrics and tools ask of a network, as ``typing.Protocol``s: the
DCGAN nets (``dcgan.py``) and the toy MLPs (``mlp.py``) both satisfy them, and so does
any network a user brings (a ResNet G and D, say) without subclassing anything."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


@dataclass
class DFeatures:
    """D's outputs with its intermediate activations, for objectives and probes."""

    logits: torch.Tensor  # (B,)
    blocks: list[torch.Tensor]  # each block's output, (B, C_i, H_i, W_i) or (B, C_i)
    inputs: torch.Tensor | None = None  # the images D saw, (B, C, H, W): gradients at them

    @property
    def penultimate(self) -> torch.Tensor:
        """Φ(x): the last block flattened, (B, n_h)."""
        return self.blocks[-1].flatten(1)


@runtime_checkable
class GeneratorLike(Protocol):
    """z (B, nz) [+ labels (B,)] -> images (B, C, H, W) in [-1, 1]."""

    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor: ...

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, nz) latents on the CPU, so that a seed gives the same z on any device."""
        ...


@runtime_checkable
class DiscriminatorLike(Protocol):
    """images (B, C, H, W) [+ labels] -> logits (B,), with its features on request."""

    def __call__(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor: ...

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> DFeatures:
        """Logits and every block's output; the last block is Φ, DFM's feature space."""
        ...

    def feature_dims(self) -> list[int]:
        """Flattened size of each block's output; the last is n_h."""
        ...
