import pytest
import torch

from dfmgan.config import ConfigError
from dfmgan.models import SIZES, Discriminator, Generator, NetConfig, layout


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_every_size_and_channel_count(size, channels):
    cfg = NetConfig(size=size, channels=channels, g_width=4, d_width=4)
    G, D = Generator(cfg), Discriminator(cfg)
    x = G(G.sample_latent(3))
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1  # Tanh output
    f = D.features(x)
    assert f.logits.shape == (3,)
    base, n_up = layout(size)
    assert len(f.blocks) == n_up
    assert f.blocks[-1].shape[-2:] == (base, base)
    assert f.penultimate.shape == (3, D.feature_dim)
    assert torch.equal(D(x), f.logits)


def test_layout_matches_the_papers():
    assert layout(64) == (4, 4) and layout(32) == (4, 3) and layout(48) == (6, 3)
    assert layout(28) == (7, 2) and layout(96) == (6, 4) and layout(128) == (4, 5)


def test_lsun_generator_widths_follow_figure_1():
    G = Generator(NetConfig(size=64, channels=3, g_width=128))
    convs = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [1024, 512, 256, 128, 3]
    assert convs[0].kernel_size == (4, 4)  # project z to 4x4x1024


def test_batchnorm_placement_follows_the_guidelines():
    cfg = NetConfig(size=32, channels=3, g_width=8, d_width=8)
    G, D = Generator(cfg), Discriminator(cfg)
    g_layers = list(G.net)
    assert isinstance(g_layers[-1], torch.nn.Tanh)
    assert isinstance(g_layers[-2], torch.nn.ConvTranspose2d)  # no BN at G's output
    first = list(D.blocks[0])
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in first)  # none at D's input
    assert all(any(isinstance(m, torch.nn.BatchNorm2d) for m in b) for b in D.blocks[1:])
    assert all(m.negative_slope == 0.2 for m in D.modules() if isinstance(m, torch.nn.LeakyReLU))
    assert not any(isinstance(m, torch.nn.Linear) for m in list(G.modules()) + list(D.modules()))


def test_init_statistics():
    torch.manual_seed(0)
    cfg = NetConfig(size=64, channels=3, g_width=64, d_width=64)
    G, D = Generator(cfg), Discriminator(cfg)
    w = torch.cat([m.weight.flatten() for n in (G, D) for m in n.modules()
                   if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))])
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 5e-4
    g = torch.cat([m.weight for n in (G, D) for m in n.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    b = torch.cat([m.bias for n in (G, D) for m in n.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(g.mean().item() - 1) < 3e-3 and abs(g.std().item() - 0.02) < 3e-3
    assert torch.all(b == 0)


def test_bn_without_scale_and_bias():
    G = Generator(NetConfig(size=28, channels=1, bn_affine=False, g_width=8))
    bns = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.weight is None and m.bias is None for m in bns)


def test_latent_distributions():
    g = torch.Generator().manual_seed(0)
    u = Generator(NetConfig(size=28, channels=1, g_width=4)).sample_latent(5000, g)
    assert u.shape == (5000, 100) and u.min() >= -1 and u.max() <= 1
    assert abs(u.std().item() - (1 / 3) ** 0.5) < 0.01  # uniform on [-1, 1]
    n = Generator(NetConfig(size=28, channels=1, g_width=4, latent="normal")).sample_latent(5000, g)
    assert abs(n.std().item() - 1) < 0.01


def test_conditional_nets_take_labels():
    cfg = NetConfig(size=28, channels=1, g_width=4, d_width=4, n_classes=10)
    G, D = Generator(cfg), Discriminator(cfg)
    y = torch.arange(4)
    assert D(G(G.sample_latent(4), y), y).shape == (4,)


@pytest.mark.parametrize("bad", [{"size": 40}, {"channels": 2}, {"latent": "cauchy"}])
def test_bad_net_config(bad):
    with pytest.raises(ConfigError):
        NetConfig(**bad)
