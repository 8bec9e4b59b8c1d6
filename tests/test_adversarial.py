"""Adversarial loss families by hand, spectral normalisation against the SVD, every
objective with the hinge loss, and the registries' entries in --help."""
import math

import pytest
import torch
from conftest import TINY_FLAGS, run_cli

from dfmgan.checkpoint import load_latest_state
from dfmgan.models import Discriminator, NetConfig
from dfmgan.objectives import OBJECTIVES
from dfmgan.objectives.adversarial import ADVERSARIAL, Hinge, NonSaturating
from dfmgan.training import train


def test_hinge_losses_by_hand():
    d_real, d_fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.5])
    # max(0, 1 - r) = (0, 0.5, 2); max(0, 1 + f) = (0, 1, 2.5)
    assert Hinge().d_loss(d_real, d_fake).item() == pytest.approx(2.5 / 3 + 3.5 / 3)
    assert Hinge().g_loss(torch.tensor([1.0, -3.0])).item() == pytest.approx(1.0)


def test_non_saturating_losses_by_hand():
    d_real, d_fake = torch.tensor([0.0, math.log(3)]), torch.tensor([0.0])
    # -log σ(0) = log 2; -log σ(log 3) = log(4/3); -log(1 - σ(0)) = log 2
    expected = (math.log(2) + math.log(4 / 3)) / 2 + math.log(2)
    assert NonSaturating().d_loss(d_real, d_fake).item() == pytest.approx(expected)
    assert NonSaturating().g_loss(torch.tensor([math.log(3)])).item() == pytest.approx(math.log(4 / 3))


def test_spectral_norm_matches_the_largest_singular_value():
    torch.manual_seed(0)
    D = Discriminator(NetConfig(size=32, channels=1, d_width=8, d_norm="spectral")).train()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    with torch.no_grad():
        for _ in range(200):  # one power iteration per forward pass in training mode
            D(torch.randn(2, 1, 32, 32))
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 4  # three blocks and the head
    for conv in convs:
        sn = conv.parametrizations.weight
        w = sn.original.detach().flatten(1)  # (out, in·k·k), as SNGAN reshapes it
        sigma = torch.linalg.svdvals(w)[0]
        u, v = sn[0]._u, sn[0]._v
        assert (u @ w @ v).item() == pytest.approx(sigma.item(), rel=1e-3)
        # the weight D uses has largest singular value 1
        assert torch.linalg.svdvals(conv.weight.detach().flatten(1))[0].item() == pytest.approx(1.0, rel=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("objective", [n for n, c in sorted(OBJECTIVES.items())
                                       if not c.families or "hinge" in c.families])
def test_every_objective_trains_with_hinge_and_spectral_norm(tmp_path, tiny_cfg, objective):
    own = {"dfm": {"denoiser": {"width": 32}}} if objective == "dfm" else {}
    over = {"objective": {"name": objective, "adversarial": "hinge", **own},
            "net": {"d_norm": "spectral"}}
    train(tiny_cfg(steps=4, **over), tmp_path / "a", progress=False)
    train(tiny_cfg(steps=2, **over), tmp_path / "b", progress=False)
    train(tiny_cfg(steps=4, **over), tmp_path / "b", resume=True, progress=False)
    a, b = load_latest_state(tmp_path / "a"), load_latest_state(tmp_path / "b")
    for net in a["objective"]["modules"]:  # the power iteration's u, v resume too
        for k, v in a["objective"]["modules"][net].items():
            assert torch.isfinite(v.float()).all() and torch.equal(v, b["objective"]["modules"][net][k]), k


@pytest.mark.slow
def test_the_cli_line_of_the_issue_trains(tmp_path):
    r = run_cli("train", "--preset", "digits", "--objective", "dfm", "--adversarial", "hinge",
                "--set", "net.d_norm=spectral", "--steps", "2", *TINY_FLAGS, "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli("train", "--preset", "digits", "--set", "net.d_norm=bogus", "--steps", "2",
                *TINY_FLAGS, "--out", str(tmp_path / "bad"))
    assert r.returncode == 2 and "unknown D normalisation 'bogus'" in r.stderr


def test_every_registry_entry_appears_in_help():
    from dfmgan.data import DATASETS
    from dfmgan.evaluation.registry import METRICS, get_metric
    from dfmgan.models.d_norms import registered
    from dfmgan.objectives import OBJECTIVES
    from dfmgan.presets import PRESETS

    D_NORMS = registered()  # every module that registers a norm, imported
    assert {"batch", "spectral", "none", "layer"} <= set(D_NORMS)
    train_help = " ".join(run_cli("train", "--help").stdout.split())
    for name in [*OBJECTIVES, *ADVERSARIAL, *DATASETS, *PRESETS, *D_NORMS]:
        assert name in train_help, name
    get_metric("fid")
    eval_help = " ".join(run_cli("eval", "--help").stdout.split())
    for name in METRICS:
        assert name in eval_help, name
