"""Mode-coverage metrics against values worked out by hand."""
import math

import pytest
import torch

from dfmgan.evaluation.modes import grid, mode_report, ring, sample_mixture


def test_centres():
    assert grid().shape == (25, 2) and grid()[0].tolist() == [-4.0, -4.0] and grid()[-1].tolist() == [4.0, 4.0]
    r = ring()
    assert r.shape == (8, 2) and torch.allclose(r.norm(dim=1), torch.ones(8, dtype=torch.float64))


def test_report_by_hand():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    samples = torch.tensor([[0.0, 0.0], [0.2, 0.0], [10.0, 0.29], [5.0, 5.0]])
    rep = mode_report(samples, centres, std=0.1)  # 3σ = 0.3: three samples are good
    assert rep.counts == [2, 1] and rep.modes == 2
    assert rep.high_quality == pytest.approx(0.75)
    p = [2 / 3, 1 / 3]  # KL(p || uniform) = Σ p log(2p)
    assert rep.reverse_kl == pytest.approx(sum(x * math.log(2 * x) for x in p))


def test_true_samples_cover_everything():
    g = torch.Generator().manual_seed(0)
    rep = mode_report(sample_mixture(grid(), 0.05, 2500, g), grid(), 0.05)
    assert rep.modes == 25 and rep.high_quality > 0.98 and rep.reverse_kl < 0.02


def test_collapsed_samples():
    samples = torch.zeros(100, 2) + torch.tensor([2.0, 2.0])  # all on one grid centre
    rep = mode_report(samples, grid(), 0.05)
    assert rep.modes == 1 and rep.high_quality == 1.0
    assert rep.reverse_kl == pytest.approx(math.log(25))
