"""DiffAugment (Zhao, Liu, Lin, Zhu & Han, NeurIPS 2020, *Differentiable Augmentation for
Data-Efficient GAN Training*, §3 and its Table/Figure of policies).

The same random, differentiable transform T goes before every pass through D, on real
and generated batches alike: D learns on T(x) and T(G(z)), and G's gradient flows back
through T (§3.2: augmenting only the reals, or not G's pass, fails). Policies, any subset,
applied in this order, each with fresh draws per image:

* ``color``: brightness + U(-0.5, 0.5); saturation: the deviation from the per-pixel
  channel mean x U(0, 2); contrast: the deviation from the image mean x U(0.5, 1.5);
* ``translation``: a shift by whole pixels of up to 1/8 of the side in each direction,
  the uncovered border filled with 0 (mid-grey in [-1, 1]);
* ``cutout``: a square of half the side, centred anywhere on the image, set to 0.

Images are in [-1, 1] (B, C, H, W). Every draw comes from torch's generator of the
batch's device, whose state every checkpoint saves, so a run is deterministic under its
seed and resumes bit for bit.

With an objective that reads D's features (DFM, feature matching), those are D's features
of the augmented images: DFM's denoiser learns the density of Φ(T(x)) and pulls
Φ(T(G(z))) towards it, the features D is trained on; nothing sees unaugmented images.
Each op is split into a draw and an apply so that a test can give the draws by hand."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..cites import NEURIPS, bib
from ..errors import ConfigError

CITES = bib("zhao2020diffaugment", "Differentiable Augmentation for Data-Efficient {GAN} "
            "Training", "Zhao, Shengyu and Liu, Zhijian and Lin, Ji and Zhu, Jun-Yan and Han, Song",
            NEURIPS, 2020)

POLICIES = ("color", "translation", "cutout")
TRANSLATION, CUTOUT = 1 / 8, 1 / 2  # the paper's ratios of the image side


def parse_policy(text: str) -> tuple[str, ...]:
    """'color,translation' -> ('color', 'translation'); '' -> () (off); in POLICIES order."""
    if not isinstance(text, str):
        raise ConfigError(f"objective.augment must be a comma-separated string, got {text!r}")
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ConfigError(f"unknown augmentation {unknown[0]!r}; use any of {', '.join(POLICIES)}")
    return tuple(p for p in POLICIES if p in names)


def brightness(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """r (B, 1, 1, 1) in [0, 1): x + (r - 0.5)."""
    return x + (r - 0.5)


def saturation(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """r (B, 1, 1, 1) in [0, 1): each pixel's deviation from its channel mean x 2r."""
    mean = x.mean(dim=1, keepdim=True)  # (B, 1, H, W)
    return (x - mean) * (2 * r) + mean


def contrast(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """r (B, 1, 1, 1) in [0, 1): the deviation from the image's mean x (r + 0.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (x - mean) * (r + 0.5) + mean


def translate(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """dy, dx (B,) whole pixels: out[b, :, i, j] = x[b, :, i + dy, j + dx], 0 outside."""
    b, _, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1))  # (B, C, H+2, W+2): a ring of zeros to read from
    rows = (torch.arange(h, device=x.device)[None] + dy[:, None] + 1).clamp(0, h + 1)  # (B, H)
    cols = (torch.arange(w, device=x.device)[None] + dx[:, None] + 1).clamp(0, w + 1)  # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None]  # (B, 1, 1)
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2)


def cut(x: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """cy, cx (B,): a (size[0] x size[1]) square centred at (cy, cx) set to 0, clipped."""
    _, _, h, w = x.shape
    rows = torch.arange(h, device=x.device)[None] - (cy[:, None] - size[0] // 2)  # (B, H)
    cols = torch.arange(w, device=x.device)[None] - (cx[:, None] - size[1] // 2)  # (B, W)
    inside = ((rows >= 0) & (rows < size[0]))[:, :, None] & ((cols >= 0) & (cols < size[1]))[:, None, :]
    return x * (~inside).to(x.dtype)[:, None]  # (B, 1, H, W) mask


def shifts(x: torch.Tensor) -> tuple[int, int]:
    """The largest translation, in pixels, along H and W."""
    return int(x.shape[2] * TRANSLATION + 0.5), int(x.shape[3] * TRANSLATION + 0.5)


def cutout_size(x: torch.Tensor) -> tuple[int, int]:
    return int(x.shape[2] * CUTOUT + 0.5), int(x.shape[3] * CUTOUT + 0.5)


class Augment:
    """``T(x)`` for one policy; the identity when the policy is empty."""

    def __init__(self, policy: str = ""):
        self.policy = parse_policy(policy)

    def __bool__(self) -> bool:
        return bool(self.policy)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.policy:
            return x
        b, dev = x.shape[0], x.device
        if "color" in self.policy:
            for op in (brightness, saturation, contrast):
                x = op(x, torch.rand(b, 1, 1, 1, dtype=x.dtype, device=dev))
        if "translation" in self.policy:
            sy, sx = shifts(x)
            x = translate(x, torch.randint(-sy, sy + 1, (b,), device=dev),
                          torch.randint(-sx, sx + 1, (b,), device=dev))
        if "cutout" in self.policy:
            size = cutout_size(x)  # an even side: centres 0..H; odd: 0..H-1 (as the paper's code)
            x = cut(x, torch.randint(0, x.shape[2] + (1 - size[0] % 2), (b,), device=dev),
                    torch.randint(0, x.shape[3] + (1 - size[1] % 2), (b,), device=dev), size)
        return x
