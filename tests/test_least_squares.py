"""The least-squares family: its losses by hand, and DFM with it trains."""
import pytest
import torch

from dfmgan.objectives.adversarial import family


def test_least_squares_losses_by_hand():
    ls = family("least-squares")
    d_real, d_fake = torch.tensor([1.0, 0.0]), torch.tensor([0.5, -1.0])
    # D: ½·mean((0)², (-1)²) + ½·mean(0.25, 1) = 0.25 + 0.3125
    assert ls.d_loss(d_real, d_fake).item() == pytest.approx(0.5625)
    # G: ½·mean((-0.5)², (-2)²) = ½·2.125
    assert ls.g_loss(d_fake).item() == pytest.approx(1.0625)


def test_dfm_trains_with_the_least_squares_loss(tmp_path, tiny_cfg):
    from dfmgan.training import train

    r = train(tiny_cfg(objective={"name": "dfm", "adversarial": "least-squares"}, steps=3),
              tmp_path / "run", progress=False)
    assert r.step == 3
