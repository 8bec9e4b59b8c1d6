"""Whole-batch transforms on uint8 tensors (no per-sample Python work)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import DataError


def resize_uint8(images: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """(N, C, h, w) uint8 -> (N, C, size, size) uint8; antialiased when shrinking."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = torch.empty(images.shape[0], images.shape[1], size, size, dtype=torch.uint8)
    for i in range(0, images.shape[0], chunk):  # bounded float memory for large sets
        x = images[i:i + chunk].float()
        y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=size < images.shape[-1])
        out[i:i + chunk] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def match_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey -> RGB by repetition; RGB -> grey by ITU-R 601 luma (what PIL's "L" uses)."""
    have = images.shape[1]
    if have == channels:
        return images
    if have == 1:
        return images.expand(-1, 3, -1, -1).contiguous()
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images.float() * w).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range of G's Tanh."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255]. NaN would become 0 without a word (black images
    from a network whose huge but finite weights overflow): it is one line instead."""
    x = images.detach().float().cpu()
    if not torch.isfinite(x).all():
        raise DataError("the generated images hold NaN or inf: the generator's arithmetic "
                        "overflows (its weights are finite but too large to compute with)")
    return ((x + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
