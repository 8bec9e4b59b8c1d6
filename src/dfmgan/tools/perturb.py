"""Planted near-duplicates, to measure a de-duplicator against known answers.

Each kind is a copy a real collection picks up: the same file twice, a JPEG re-save,
a one-pixel shift, a ±5% brightness change, a little sensor-like noise."""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

KINDS = ("exact", "jpeg", "shift", "brightness", "noise")
SHIFTS = ((0, 1), (0, -1), (1, 0), (-1, 0))  # (dy, dx)


def jpeg(img: torch.Tensor, quality: int = 75) -> torch.Tensor:
    """(C, H, W) uint8 -> the same after a JPEG save and load."""
    a = img.numpy()
    buf = io.BytesIO()
    Image.fromarray(a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)).save(buf, "JPEG", quality=quality)
    b = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
    return torch.from_numpy(b[None].copy() if b.ndim == 2 else b.transpose(2, 0, 1).copy())


def shift(img: torch.Tensor, dy: int, dx: int, fill: int = 0) -> torch.Tensor:
    """Move the content by (dy, dx) pixels; the uncovered edge gets ``fill``."""
    _, h, w = img.shape
    out = torch.full_like(img, fill)
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def scale(img: torch.Tensor, factor: float) -> torch.Tensor:
    return (img.float() * factor).round_().clamp_(0, 255).to(torch.uint8)


def perturb(img: torch.Tensor, kind: str, rng: np.random.Generator, noise: float = 3.0) -> torch.Tensor:
    """A near-duplicate of (C, H, W) uint8 ``img``; ``noise``: σ in grey levels."""
    if kind == "exact":
        return img.clone()
    if kind == "jpeg":
        return jpeg(img)
    if kind == "shift":
        return shift(img, *SHIFTS[rng.integers(len(SHIFTS))])
    if kind == "brightness":
        return scale(img, 1 + rng.choice([-0.05, 0.05]))
    if kind == "noise":
        return (img.float() + torch.from_numpy(rng.normal(0, noise, img.shape)).float()
                ).round_().clamp_(0, 255).to(torch.uint8)
    raise ValueError(f"unknown perturbation {kind!r}; choose from {KINDS}")


@dataclass
class Planted:
    images: torch.Tensor  # (N + P, C, H, W): the originals, then P planted copies
    source: np.ndarray  # (P,) index of each copy's original
    kinds: np.ndarray  # (P,) its perturbation

    @property
    def n_original(self) -> int:
        return len(self.images) - len(self.source)


def plant(images: torch.Tensor, per_kind: int, seed: int = 0, kinds=KINDS) -> Planted:
    """Append ``per_kind`` copies of each kind, each of a different original."""
    rng = np.random.default_rng(seed)
    source = rng.choice(len(images), per_kind * len(kinds), replace=False)
    which = np.repeat(np.array(kinds), per_kind)
    copies = [perturb(images[i], k, rng) for i, k in zip(source, which)]
    return Planted(torch.cat([images, torch.stack(copies)]), source, which)
