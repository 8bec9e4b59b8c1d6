"""A narrow denoiser (``objective.dfm.denoiser.width`` below n_h: a bottleneck, DFM's
cheapest lever) computes the DFM term the paper defines, checked by hand on a 3-feature D
with a 2-unit denoiser: λ ||Φ − r(Φ)||² averaged over the batch, r's output a constant."""
from __future__ import annotations

import math

import torch
from torch import nn

from dfmgan.config import ObjectiveConfig, OptimConfig
from dfmgan.models.interface import DFeatures
from dfmgan.objectives.dfm import DFMObjective


class TinyD(nn.Module):
    """Only what DFM asks of a D here: parameters and n_h = 3."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def feature_dims(self):
        return [3]


def test_a_two_unit_denoiser_on_three_features_by_hand():
    G = nn.Linear(1, 1)
    cfg = ObjectiveConfig("dfm", own={"lambda_scale": 100.0, "denoiser": {"width": 2, "depth": 1}})
    obj = DFMObjective(G, TinyD(), cfg, OptimConfig())
    R = obj.R
    assert [m.out_features for m in R.net if isinstance(m, nn.Linear)] == [2, 3]  # the bottleneck
    with torch.no_grad():
        R.net[0].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))  # units: h1, h3
        R.net[1].weight.fill_(1.0)
        R.net[1].bias.fill_(0.0)
        R.net[3].weight.copy_(torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 2.0]]))
        R.net[3].bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    h = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], requires_grad=True)
    fake = DFeatures(torch.zeros(2), [h], None)  # logits 0: the adversarial term is log 2
    loss, stats = obj.g_loss(fake, None)
    # By hand. Layer 1 (train-mode BatchNorm over the batch of 2): unit 1 sees (1, 3), unit
    # 2 sees (3, 1); each normalises to (∓1, ±1)·s with s = 1/sqrt(1 + eps) (variance 1).
    # ReLU -> sample 1: (0, s), sample 2: (s, 0). Output: r1 = (0, 1 + s/2, 2s),
    # r2 = (s, 1 + s/2, 0).
    s = 1 / math.sqrt(1 + 1e-5)
    r = torch.tensor([[0.0, 1 + s / 2, 2 * s], [s, 1 + s / 2, 0.0]])
    sq = (h.detach() - r).pow(2).sum(1)  # (2,)
    lam = 0.03 / 3 * 100.0
    assert math.isclose(stats["dfm/G_denoise"].item(), lam * sq.mean().item(), rel_tol=1e-5)
    assert math.isclose(loss.item(), lam * sq.mean().item() + math.log(2), rel_tol=1e-5)
    # r(Φ) is a constant target: G's gradient is 2λ(Φ − r)/B, nothing through r
    loss.backward()
    assert torch.allclose(h.grad, 2 * lam * (h.detach() - r) / 2, atol=1e-5)
