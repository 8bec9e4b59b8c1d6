"""``copies``: does G hand back its training images? A memorisation check in pixel space,
so it needs the reference's real pixels, not only their features.

For each generated image y, d(y) is the L2 distance (pixels in 0..1) to its nearest
reference image; for each reference image x, d(x) is the distance to its nearest *other*
reference image. A generator that draws fresh images from the data distribution stands
to the reference as one more real image would, so
  * ``copy_nn_ratio`` = median d(y) / median d(x) is about 1; well below 1, the samples
    sit closer to real images than real images sit to each other;
  * ``copy_share``, the share of samples with d(y) below the 5th percentile of d(x), is
    about 0.05; a generator that returns training images scores up to 1.
Cf. the nearest-neighbour checks of DCGAN §6.1 and Meehan et al. 2020 (data-copying). The
reference should be the training data (``eval``'s default split) to detect copies of it."""
from __future__ import annotations

import torch

from .registry import Judged, MetricOptions, register_metric

QUANTILE = 0.05  # d(x) quantile below which a sample counts as a near-copy


def flat(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, C·H·W) float in 0..1."""
    return images.flatten(1).float() / 255


def nearest(query: torch.Tensor, ref: torch.Tensor, skip_self: bool, chunk: int = 512) -> torch.Tensor:
    """(Q,) distance from each query row to its nearest ref row (another row when the
    query is the reference itself)."""
    out = []
    for i in range(0, len(query), chunk):
        d = torch.cdist(query[i:i + chunk], ref)  # (c, R)
        if skip_self:
            d[torch.arange(len(d)), torch.arange(i, i + len(d))] = float("inf")
        out.append(d.min(1).values)
    return torch.cat(out)


@register_metric("copies", needs=("images", "reference_images"),
                 better={"copy_share": "lower"},
                 meaning="memorisation: share of samples nearer (pixels) to a real image than "
                 "95% of real images are to their nearest other (about 0.05 for fresh images, "
                 "up to 1 for copies), and median nearest distance over the real one (about 1)")
def copies(j: Judged, opts: MetricOptions) -> dict:
    ref = flat(j.reference.images)  # (R, D)
    gen = flat(j.images)  # (N, D)
    if gen.shape[1] != ref.shape[1]:
        from ..errors import DfmganError

        raise DfmganError(f"metric 'copies' compares pixels: generated images are "
                          f"{tuple(j.images.shape[1:])}, the reference's {tuple(j.reference.images.shape[1:])}")
    d_real = nearest(ref, ref, skip_self=True)  # (R,)
    d_gen = nearest(gen, ref, skip_self=False)  # (N,)
    cut = torch.quantile(d_real, QUANTILE)
    return {"copy_share": (d_gen < cut).double().mean().item(),
            "copy_nn_ratio": (d_gen.median() / d_real.median().clamp_min(1e-12)).item()}
