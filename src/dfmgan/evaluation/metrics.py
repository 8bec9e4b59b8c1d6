"""The standard metrics, on features from one extraction path.

* FID (Heusel et al. 2017), KID (Bińkowski et al. 2018) and the Inception score
  (Salimans et al. 2016; 10 groups, mean ± std as both papers report it) are computed by
  torchmetrics, handed our features through an identity "feature network".
* Precision and recall (Kynkäänniemi et al. 2019, k = 3) and class coverage are written
  here: torchmetrics has neither. Precision is the share of generated samples inside some
  real sample's k-NN ball, recall the share of real samples inside some generated one's."""
from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from .registry import Judged, MetricOptions, register_metric


def quiet(cls, **kw):
    """Build a torchmetrics metric without its warning that it keeps every feature in
    memory: that is the point here, the features are already in memory."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features")
        return cls(**kw)


class Given(nn.Module):
    """Features already extracted: torchmetrics' ``feature`` module becomes the identity."""

    def __init__(self, n: int):
        super().__init__()
        self.num_features = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@register_metric("fid", better={"fid": "lower"}, best="fid", default=True,
                 meaning="Fréchet distance between Gaussians fit to real and generated features; lower is better, 0 = identical statistics")
def fid(j: Judged, opts: MetricOptions) -> dict:
    from torchmetrics.image.fid import FrechetInceptionDistance

    gen, real = j.gen, j.real
    m = FrechetInceptionDistance(feature=Given(real.pool.shape[1]))
    m.update(real.pool, real=True)
    m.update(gen.pool, real=False)
    return {"fid": float(m.compute())}


@register_metric("kid", better={"kid": "lower"}, default=True,
                 meaning="kernel (MMD²) distance between real and generated features, unbiased; lower is better, about 0 = same distribution")
def kid(j: Judged, opts: MetricOptions) -> dict:
    from torchmetrics.image.kid import KernelInceptionDistance

    gen, real = j.gen, j.real
    size = min(opts.kid_subset_size, len(gen.pool), len(real.pool))
    m = quiet(KernelInceptionDistance, feature=Given(real.pool.shape[1]),
              subsets=opts.kid_subsets, subset_size=size)
    m.update(real.pool, real=True)
    m.update(gen.pool, real=False)
    with torch.random.fork_rng():  # KID draws random subsets
        torch.manual_seed(opts.seed)
        mean, std = m.compute()
    return {"kid": float(mean), "kid_std": float(std)}


def kth_radius(x: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """(N, F) -> (N,): distance from each point to its k-th nearest other point."""
    out = []
    for i in range(0, len(x), chunk):
        d = torch.cdist(x[i:i + chunk], x)  # (c, N); the point itself is at distance 0
        out.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(out)


def covered(query: torch.Tensor, ref: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """(Q,) bool: is each query point inside some reference point's ball?"""
    out = []
    for i in range(0, len(query), chunk):
        d = torch.cdist(query[i:i + chunk], ref)  # (c, R)
        out.append((d <= radii[None]).any(1))
    return torch.cat(out)


@register_metric("pr", better={"precision": "higher", "recall": "higher"}, default=True,
                 meaning="precision: share of samples inside the real data's k-NN manifold (fidelity); recall: share of real data inside the samples' (diversity); 0..1, higher is better; a recall near 0 means the samples cover little of the data")
def precision_recall(j: Judged, opts: MetricOptions) -> dict:
    r, g = j.real.pool.float(), j.gen.pool.float()
    precision = covered(g, r, kth_radius(r, opts.k)).double().mean().item()
    recall = covered(r, g, kth_radius(g, opts.k)).double().mean().item()
    return {"precision": precision, "recall": recall}


@register_metric("is", needs=("features", "logits"), better={"is": "higher"}, default=True,
                 meaning="Inception score, exp E KL(p(y|x) || p(y)): confident and varied class predictions; higher is better, at most the class count")
def inception_score(j: Judged, opts: MetricOptions) -> dict:
    from torchmetrics.image.inception import InceptionScore

    gen = j.gen
    m = quiet(InceptionScore, feature=Given(gen.logits.shape[1]), splits=opts.splits)
    m.update(gen.logits)
    with torch.random.fork_rng():  # IS shuffles before splitting
        torch.manual_seed(opts.seed)
        mean, std = m.compute()
    return {"is": float(mean), "is_std": float(std)}


@register_metric("coverage", needs=("features", "logits"), better={"class_entropy": "higher"},
                 default=True, meaning="predicted-class histogram of the samples; entropy / log K, 1 = every class equally often, low = a few classes only")
def class_coverage(j: Judged, opts: MetricOptions) -> dict:
    """Histogram of predicted classes over the samples and its entropy / log K (1 = even)."""
    gen = j.gen
    k = gen.logits.shape[1]
    counts = torch.bincount(gen.logits.argmax(1), minlength=k).double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum().item()
    return {"class_entropy": entropy / math.log(k), "class_histogram": counts.long().tolist()}
