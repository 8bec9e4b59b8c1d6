"""Density and coverage (Naeem et al. 2020, *Reliable Fidelity and Diversity Metrics for
Generative Models*, eqs. 3-4), on the shared features. With B(x, r) the ball around a real
point x whose radius r is the distance to its k-th nearest real neighbour:
    density  = 1/(kM) Σ_j Σ_i 1[y_j ∈ B(x_i, r_i)]   (samples y_j, M of them; ~1 = real-like)
    coverage = 1/N Σ_i 1[∃ j: y_j ∈ B(x_i, r_i)]      (real x_i, N of them; 0..1)
Unlike precision and recall, both use only the real data's neighbourhoods, so an outlier
sample cannot inflate them."""
from __future__ import annotations

import torch

from .metrics import kth_radius
from .registry import Judged, MetricOptions, register_metric


@register_metric("dc", better={"dc_coverage": "higher"}, meaning="density: how many real k-NN balls hold each sample, over k "
                 "(about 1 for real data, above 1 = crowded on dense regions); coverage: share "
                 "of real points whose ball holds a sample (0..1, higher is better)")
def density_coverage(j: Judged, opts: MetricOptions) -> dict:
    r, g = j.real.pool.float(), j.gen.pool.float()
    radii = kth_radius(r, opts.k)  # (N,)
    inside = torch.cat([torch.cdist(g[i:i + 1024], r) <= radii[None]  # (M, N) bool, by chunks
                        for i in range(0, len(g), 1024)])
    return {"density": inside.sum().item() / (opts.k * len(g)),
            "dc_coverage": inside.any(0).double().mean().item()}
