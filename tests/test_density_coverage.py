"""Density and coverage against a count by hand."""
import pytest
import torch

from dfmgan.evaluation.features import Features
from dfmgan.evaluation.registry import MetricOptions, get_metric


def test_density_and_coverage_by_hand():
    # real points on a line at 0, 1, 2, 10; with k = 1 their radii are 1, 1, 1, 8
    real = Features(torch.tensor([[0.0], [1.0], [2.0], [10.0]], dtype=torch.float64), None)
    # samples: 0.5 lies in the balls of 0 and 1 (and of 10? |10-0.5| = 9.5 > 8: no);
    # 2.5 in 2's (|2.5-1| = 1.5 > 1: not 1's) and in 10's (7.5 <= 8); 30 in none
    gen = Features(torch.tensor([[0.5], [2.5], [30.0]], dtype=torch.float64), None)
    out = get_metric("dc")(MetricOptions(k=1), gen=gen, real=real)
    assert out["density"] == pytest.approx((2 + 2 + 0) / (1 * 3))
    assert out["dc_coverage"] == pytest.approx(4 / 4)  # every real ball holds a sample


def test_real_data_against_itself_covers_everything():
    x = Features(torch.randn(200, 5, generator=torch.Generator().manual_seed(0)).double(), None)
    out = get_metric("dc")(MetricOptions(k=3), gen=x, real=x)
    assert out["dc_coverage"] == 1.0 and out["density"] >= 1.0
