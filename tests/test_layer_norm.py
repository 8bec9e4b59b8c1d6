"""The layer-norm D, added as one file (models/layer_norm.py): per image, by hand, and
trained from the CLI."""
import pytest
import torch
from conftest import TINY_FLAGS, run_cli

from dfmgan.models import Discriminator, NetConfig


def test_each_inner_block_is_normalised_image_by_image():
    torch.manual_seed(0)
    D = Discriminator(NetConfig(size=32, channels=1, d_width=4, d_norm="layer")).train()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    x = torch.randn(5, 1, 32, 32) * torch.arange(1, 6.0)[:, None, None, None]  # (5, 1, 32, 32)
    norm = D.blocks[1][1]  # after the second block's conv: (5, 8, 8, 8)
    h = D.blocks[1][0](D.blocks[0](x))
    flat = h.flatten(1)  # by hand: each image over all of (C, H, W), biased variance
    by_hand = (flat - flat.mean(1, keepdim=True)) / (flat.var(1, unbiased=False, keepdim=True)
                                                      + norm.eps).sqrt()
    assert torch.allclose(norm(h).flatten(1), by_hand, atol=1e-5)  # γ = 1, β = 0 at init
    # no statistic is shared across the batch: an image's logit is the same alone
    assert torch.allclose(D(x)[2:3], D(x[2:3]), atol=1e-6)


@pytest.mark.slow
def test_layer_norm_trains_from_the_cli(tmp_path):
    r = run_cli("train", "--preset", "digits", "--d-norm", "layer", "--adversarial", "hinge",
                "--steps", "2", *TINY_FLAGS, "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "layer" in " ".join(run_cli("train", "--help").stdout.split())
