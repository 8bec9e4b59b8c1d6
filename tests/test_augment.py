"""DiffAugment (objectives/augment.py): each op against a hand computation on a fixed
image, gradients reaching G through it, every D pass augmented, and a run with
``--augment`` deterministic under its seed and bitwise on resume."""
import json

import pytest
import torch

from conftest import resumed_equals_straight
from hypothesis import given, settings
from hypothesis import strategies as st

from dfmgan.checkpoint import load_latest_state
from dfmgan.errors import ConfigError
from dfmgan.objectives.augment import (Augment, brightness, contrast, cut, cutout_size,
                                       parse_policy, saturation, shifts, translate)
from dfmgan.training import train

# one 2 x 2 RGB image and its hand values
X = torch.tensor([[[[0.0, 0.5], [1.0, -1.0]],      # R
                   [[0.2, 0.2], [0.2, 0.2]],       # G
                   [[-0.6, 0.0], [0.6, 0.0]]]])    # B


def test_brightness_by_hand():
    out = brightness(X, torch.full((1, 1, 1, 1), 0.75))
    assert torch.allclose(out, X + 0.25)


def test_saturation_by_hand():
    # pixel (0, 0): channels (0, 0.2, -0.6), mean -0.4/3; r = 0.25 -> deviation x 0.5
    out = saturation(X, torch.full((1, 1, 1, 1), 0.25))
    m = (0.0 + 0.2 - 0.6) / 3
    assert out[0, :, 0, 0].tolist() == pytest.approx([m + (0 - m) / 2, m + (0.2 - m) / 2,
                                                      m + (-0.6 - m) / 2])


def test_contrast_by_hand():
    # the image mean over 12 values is 1.9 / 12; r = 1 -> deviation x 1.5
    out = contrast(X, torch.ones(1, 1, 1, 1))
    m = float(X.sum()) / 12
    assert torch.allclose(out, (X - m) * 1.5 + m)


def test_translation_by_hand():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = translate(x, torch.tensor([1]), torch.tensor([-2]))
    # out[i, j] = x[i + 1, j - 2], 0 outside
    want = torch.tensor([[0, 0, 4, 5], [0, 0, 8, 9], [0, 0, 12, 13], [0, 0, 0, 0]]).float()
    assert torch.equal(out[0, 0], want)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(2, 12), dy=st.integers(-14, 14), dx=st.integers(-14, 14))
def test_translation_is_a_shift_with_zero_fill(h, dy, dx):
    x = torch.rand(1, 2, h, h) + 1  # no zeros of its own
    out = translate(x, torch.tensor([dy]), torch.tensor([dx]))
    for i in range(h):
        for j in range(h):
            src = (i + dy, j + dx)
            inside = 0 <= src[0] < h and 0 <= src[1] < h
            assert torch.equal(out[0, :, i, j], x[0, :, src[0], src[1]] if inside else torch.zeros(2))


def test_cutout_by_hand():
    x = torch.ones(1, 1, 4, 4)
    out = cut(x, torch.tensor([0]), torch.tensor([3]), (2, 2))
    # a 2 x 2 square centred at (0, 3): rows -1..0, cols 2..3, clipped to row 0
    want = torch.ones(4, 4)
    want[0, 2:4] = 0
    assert torch.equal(out[0, 0], want)


def test_the_random_policy_is_the_ops_with_their_draws():
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    torch.manual_seed(5)
    got = Augment("color,translation,cutout")(x)
    torch.manual_seed(5)  # the same draws, in the order the policy takes them
    b = x.shape[0]
    want = x
    for op in (brightness, saturation, contrast):
        want = op(want, torch.rand(b, 1, 1, 1))
    sy, sx = shifts(x)
    assert (sy, sx) == (2, 2)  # 16 / 8
    want = translate(want, torch.randint(-sy, sy + 1, (b,)), torch.randint(-sx, sx + 1, (b,)))
    size = cutout_size(x)
    assert size == (8, 8)
    want = cut(want, torch.randint(0, 17, (b,)), torch.randint(0, 17, (b,)), size)
    assert torch.equal(got, want)


def test_gradients_flow_through_every_op():
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    Augment("color,translation,cutout")(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("text,want", [("", ()), ("cutout,color", ("color", "cutout")),
                                       (" translation ", ("translation",))])
def test_policies_parse(text, want):
    assert parse_policy(text) == want


def test_an_unknown_policy_is_refused_before_any_file(tmp_path, tiny_cfg):
    with pytest.raises(ConfigError):
        tiny_cfg(objective={"augment": "color,zoom"})


@pytest.mark.parametrize("objective", ["gan", "dfm"])
def test_every_d_pass_sees_augmented_images(tiny_cfg, objective, monkeypatch):
    from dfmgan.objectives import build_objective
    from dfmgan.models import Discriminator, Generator

    cfg = tiny_cfg(objective={"name": objective, "augment": "cutout"})
    G, D = Generator(cfg.net), Discriminator(cfg.net)
    obj = build_objective(G, D, cfg.objective, cfg.optim)
    seen = []
    real_features = D.features
    monkeypatch.setattr(D, "features", lambda x, labels=None: seen.append(x) or real_features(x, labels))
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    obj.step(real, G.sample_latent(16))
    # cutout zeroes a 14 x 14 square of every image it sees, at least its 7 x 7 quarter when
    # centred on a corner; no input had zeros of its own
    assert len(seen) >= 2 and all(((x == 0).flatten(1).sum(1) >= 7 * 7).all() for x in seen)


def test_augment_run_is_deterministic_and_resumes_bitwise(tmp_path, tiny_cfg):
    over = {"objective": {"name": "dfm", "augment": "color,translation,cutout",
                          "dfm": {"denoiser": {"width": 16}}}}
    sa, _ = resumed_equals_straight(tmp_path, lambda n: tiny_cfg(steps=n, **over))
    # and the augmentation did something: the same run without it ends elsewhere
    c = train(tiny_cfg(steps=6, objective={"name": "dfm", "dfm": {"denoiser": {"width": 16}}}),
              tmp_path / "c", progress=False)
    g = lambda s: s["objective"]["modules"]["G"]
    sc = load_latest_state(c.run_dir)
    assert any(not torch.equal(v, g(sc)[k]) for k, v in g(sa).items())
    assert json.loads((tmp_path / "a" / "config.json").read_text())["objective"]["augment"] == \
        "color,translation,cutout"
