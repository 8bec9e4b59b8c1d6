"""``modes``: mode coverage on stacked data (Metz et al. 2017 §3.3.1; VEEGAN; PacGAN §5).

Each channel of a generated image is classified by the base set's bundled classifier
(``evaluation/weights``); the three classes give its mode, ``100·a + 10·b + c``. Reported:
the number of modes with at least one sample (of 1,000), and the KL divergence of the
samples' mode histogram p from the uniform q = 1/1000, KL(p ‖ q) = Σ p log(p / q), as both
papers report it. Every sample counts (there is no quality threshold on images).

The classifier's own errors blur the histogram: on real stacked Fashion-MNIST (the
bundled net is 92% accurate per channel, so about 78% of triples are right) the score is
not 1,000 modes at KL 0 but the real-data reference in BENCHMARKS.md."""
from __future__ import annotations

import torch

from ..data.stacked import MODES, mode_of
from ..errors import DfmganError
from .features import BundledNet, extract
from .registry import Judged, MetricOptions, register_metric

PREFIX = "stacked-"


def base_classifier(data: str) -> BundledNet:
    if not data.startswith(PREFIX):
        raise DfmganError(f"metric 'modes' needs stacked data (stacked-*), not {data!r}")
    base = data[len(PREFIX):]
    try:
        return BundledNet(base)
    except DfmganError:
        raise DfmganError(f"metric 'modes' needs a bundled {base} classifier; train one with "
                          f"python -m dfmgan.evaluation.train_feature_net {base}") from None


def classify_modes(net: BundledNet, images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> (N,) mode index, each channel classified on its own."""
    if images.shape[1] != 3:
        raise DfmganError(f"metric 'modes' needs 3-channel images, got {images.shape[1]}")
    classes = [extract(net, images[:, c:c + 1]).logits.argmax(1) for c in range(3)]
    return mode_of(torch.stack(classes, 1))  # (N, 3) -> (N,)


def mode_histogram_scores(modes: torch.Tensor) -> dict:
    """(N,) mode indices -> modes covered and KL(p ‖ uniform)."""
    counts = torch.bincount(modes, minlength=MODES).double()
    p = counts[counts > 0] / counts.sum()
    kl = float((p * (p * MODES).log()).sum())
    return {"modes": int((counts > 0).sum()), "modes_kl": kl,
            "modes_max_share": float(p.max())}


@register_metric("modes", needs=("images", "data"), best="modes_kl",
                 better={"modes": "higher", "modes_kl": "lower"},
                 meaning="modes of 1,000 covered by at least one sample, and KL(sample histogram || uniform); more modes and lower KL are better")
def stacked_modes(j: Judged, opts: MetricOptions) -> dict:
    return mode_histogram_scores(classify_modes(base_classifier(j.data), j.images))
