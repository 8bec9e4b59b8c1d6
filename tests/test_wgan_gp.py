"""WGAN-GP (objectives/wgan_gp.py): the penalty and the Wasserstein losses by hand, five
critic steps per G step on batches of their own, the pairs it cannot work with refused
before any file exists, and a run that resumes bit for bit."""
import json

import pytest
import torch
from conftest import TINY_FLAGS, run_cli

from dfmgan.checkpoint import load_latest_state
from dfmgan.objectives.adversarial import family
from dfmgan.objectives.wgan_gp import gradient_penalty
from dfmgan.resolver import build_config
from dfmgan.training import train


def test_the_penalty_of_a_linear_critic_by_hand():
    # critic(x) = <w, x> per image: its input gradient is w everywhere, so the penalty is
    # (‖w‖ - 1)² whatever the points drawn between x and G(z)
    w = torch.tensor([[[[3.0, 0.0], [0.0, 4.0]]]])  # ‖w‖ = 5
    w.requires_grad_(True)
    x, gen = torch.rand(6, 1, 2, 2), torch.rand(6, 1, 2, 2)
    gp = gradient_penalty(lambda t: (t * w).sum((1, 2, 3)), x, gen)
    assert gp.item() == pytest.approx(16.0)
    gp.backward()  # differentiable in the critic's parameters: d/dw (‖w‖ - 1)² = 2(5 - 1) w/5
    assert torch.allclose(w.grad, 2 * 4 * w.detach() / 5)


def test_wasserstein_losses_by_hand():
    adv = family("wasserstein")
    d_real, d_fake = torch.tensor([2.0, 4.0]), torch.tensor([-1.0, 0.0])
    assert adv.d_loss(d_real, d_fake).item() == pytest.approx(-0.5 - 3.0)
    assert adv.g_loss(d_fake).item() == pytest.approx(0.5)


def tiny(**over):
    base = {"objective": {"name": "wgan-gp"}, "net": {"g_width": 8, "d_width": 8},
            "batch_size": 8, "steps": 2, "log_every": 1, "sample_every": 1000,
            "checkpoint_every": 1000, "grid": 4}
    from dfmgan.config import merge
    return build_config("digits", overrides=merge(base, over))


def test_choosing_it_sets_the_papers_settings():
    cfg = tiny()
    assert (cfg.optim.lr, cfg.optim.beta1, cfg.optim.beta2) == (1e-4, 0.0, 0.9)
    assert cfg.objective.adversarial == "wasserstein" and cfg.net.d_norm == "layer"
    assert cfg.objective.own == {"gp_weight": 10.0, "n_critic": 5}


def test_five_critic_steps_per_generator_step_each_on_its_own_batch(tmp_path):
    r = train(tiny(steps=2), tmp_path / "run", progress=False)
    state = load_latest_state(r.run_dir)
    opt = state["objective"]["optimizers"]
    steps = lambda o: {int(v["step"]) for v in o["state"].values()}
    assert steps(opt["D"]) == {10} and steps(opt["G"]) == {2}  # 5 x 2 critic, 2 generator
    # 5 batches of 8 a step from the data: 80 of digits' 1,437 training images
    assert state["sampler"] == {"epoch": 0, "position": 80}
    rows = [json.loads(l) for l in (r.run_dir / "stats.jsonl").read_text().splitlines()]
    assert all("wgan/gp" in row and row["wgan/gp"] >= 0 for row in rows)


@pytest.mark.parametrize("flags,needle", [
    (["--objective", "wgan-gp", "--adversarial", "hinge"], "needs the wasserstein"),
    (["--objective", "wgan-gp", "--scheme", "simultaneous"], "alternating scheme"),
    (["--objective", "gan", "--adversarial", "wasserstein"], "works with the wgan-gp"),
    (["--objective", "dfm", "--adversarial", "wasserstein"], "works with the wgan-gp"),
])
def test_a_pair_it_cannot_work_with_is_refused_before_any_file(tmp_path, flags, needle):
    out = tmp_path / "run"
    r = run_cli("train", "--preset", "digits", *flags, "--steps", "1", "--out", str(out), *TINY_FLAGS)
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_it_resumes_bit_for_bit(tmp_path):
    a = train(tiny(steps=4), tmp_path / "a", progress=False)
    train(tiny(steps=2), tmp_path / "b", progress=False)
    train(tiny(steps=4), tmp_path / "b", resume=True, progress=False)
    sa, sb = load_latest_state(a.run_dir), load_latest_state(tmp_path / "b")
    for net, weights in sa["objective"]["modules"].items():
        for k, v in weights.items():
            assert torch.equal(v, sb["objective"]["modules"][net][k]), (net, k)
