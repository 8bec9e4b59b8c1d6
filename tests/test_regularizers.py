"""D-side terms (regularizers/: R1, R2) and the relativistic pairing family (rpgan): values
by hand, the double backward under both schemes with DFM and feature matching, the lazy
interval's rule, resume bit for bit, and the pairs they cannot work with refused before
any file exists."""
import json
from pathlib import Path

import pytest
import torch
from conftest import TINY_FLAGS, run_cli, untimed
from hypothesis import given, settings
from hypothesis import strategies as st

from dfmgan.checkpoint import load_latest_state
from dfmgan.config import merge
from dfmgan.objectives import OBJECTIVES
from dfmgan.objectives.adversarial import family
from dfmgan.regularizers import TERMS, Terms, names
from dfmgan.resolver import build_config
from dfmgan.training import train


def quadratic_critic(a: torch.Tensor):
    """D(x) = a · Σ x²: ∇ₓD = 2a·x, so ‖∇ₓD‖² = 4a²‖x‖² per image."""
    return lambda t: a * t.pow(2).sum((1, 2, 3))


@settings(max_examples=30, deadline=None)
@given(st.floats(-3, 3), st.integers(1, 6), st.integers(0, 2**31 - 1), st.sampled_from(["r1", "r2"]))
def test_r1_and_r2_by_hand(a, batch, seed, name):
    g = torch.Generator().manual_seed(seed)
    x, gen = torch.randn(batch, 1, 2, 3, generator=g), torch.randn(batch, 1, 2, 3, generator=g)
    w = torch.tensor(a, requires_grad=True)
    total, stats = Terms({name: 2.5})(quadratic_critic(w), x, gen)
    seen = x if TERMS[name].side == "real" else gen  # R1 reads x, R2 reads G(z)
    sq = seen.pow(2).sum((1, 2, 3))
    want = 4 * a * a * sq.mean() / 2  # γ/2 · E‖∇D‖², before γ
    assert stats[f"reg/{name}"].item() == pytest.approx(want.item(), rel=1e-5, abs=1e-6)
    assert total.item() == pytest.approx(2.5 * want.item(), rel=1e-5, abs=1e-6)
    total.backward()  # the double backward: d/da of 2.5 · 2a² E‖x‖² = 2.5 · 4a E‖x‖²
    assert w.grad.item() == pytest.approx(2.5 * 4 * a * sq.mean().item(), rel=1e-5, abs=1e-5)


def test_r1_on_a_linear_critic_is_half_the_squared_weight_norm():
    w = torch.tensor([[[[3.0, 0.0], [0.0, 4.0]]]], requires_grad=True)  # ‖w‖² = 25
    total, _ = Terms({"r1": 1.0})(lambda t: (t * w).sum((1, 2, 3)), torch.rand(5, 1, 2, 2), None)
    assert total.item() == pytest.approx(12.5)


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_the_lazy_interval_is_k_times_the_term_every_kth_step(k, seed):
    """The rule: on D steps 0, k, 2k, ... the term is computed and weighted by k; on the
    others it is absent. So for the same D and batch, its gradient summed over any k
    consecutive D steps equals the eager term's summed over the same steps."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 1, 2, 2, generator=g)
    grads = {}
    for every in (1, k):
        w = torch.tensor(0.7, requires_grad=True)
        terms = Terms({"r1": 3.0}, every)
        due = []
        for step in range(3 * k):
            total, _ = terms(quadratic_critic(w), x, x)
            due.append(total is not None)
            if total is not None:
                total.backward()
        grads[every] = w.grad.item()
        assert due == [every == 1 or s % k == 0 for s in range(3 * k)]
    assert grads[k] == pytest.approx(grads[1], rel=1e-6)


def test_rpgan_losses_by_hand():
    adv = family("rpgan")
    d_real, d_fake = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([0.0, 1.0, 0.5])
    sp = torch.nn.functional.softplus
    # pairs, not means: softplus(-(2 - 0)), softplus(-(-1 - 1)), softplus(-(0.5 - 0.5))
    want_d = (sp(torch.tensor(-2.0)) + sp(torch.tensor(2.0)) + sp(torch.tensor(0.0))) / 3
    want_g = (sp(torch.tensor(2.0)) + sp(torch.tensor(-2.0)) + sp(torch.tensor(0.0))) / 3
    assert adv.d_loss(d_real, d_fake).item() == pytest.approx(want_d.item())
    assert adv.g_loss(d_fake, d_real).item() == pytest.approx(want_g.item())
    d_real.requires_grad_(True)
    d_fake.requires_grad_(True)
    adv.g_loss(d_fake, d_real).backward()  # D(x) is a constant in G's loss
    assert d_real.grad is None and d_fake.grad is not None
    with pytest.raises(ValueError):
        adv.g_loss(d_fake)


def tiny(**over):
    base = {"net": {"g_width": 8, "d_width": 8}, "batch_size": 8, "steps": 2, "log_every": 1,
            "sample_every": 1000, "checkpoint_every": 1000, "grid": 4}
    return build_config("digits", overrides=merge(base, over))


@pytest.mark.parametrize("objective", ["gan", "dfm", "fm"])
@pytest.mark.parametrize("scheme", ["alternating", "simultaneous"])
def test_the_terms_train_d_under_both_schemes_with_every_g_side_term(tmp_path, objective, scheme):
    """R1 and R2 on, each objective and scheme: the double backward runs, the penalties are
    logged, and D's weights after one step differ from a run without them (same seed)."""
    runs = {}
    for terms in ({}, {"r1": 10.0, "r2": 10.0}):
        cfg = tiny(steps=1, objective={"name": objective, "scheme": scheme,
                                       "adversarial": "rpgan", **terms})
        out = tmp_path / f"{objective}-{bool(terms)}"
        r = train(cfg, out, progress=False)
        runs[bool(terms)] = load_latest_state(r.run_dir)["objective"]["modules"]["D"]
        rows = [json.loads(l) for l in (out / "stats.jsonl").read_text().splitlines()]
        if terms:
            assert rows[0]["reg/r1"] > 0 and rows[0]["reg/r2"] > 0
            assert all(torch.isfinite(v).all() for v in runs[True].values() if v.is_floating_point())
    assert any(not torch.equal(runs[True][k], runs[False][k]) for k in runs[True]
               if runs[True][k].is_floating_point())


@pytest.mark.parametrize("over", [
    {"objective": {"name": "r3", "reg_every": 2}},
    {"objective": {"name": "dfm", "adversarial": "rpgan", "r1": 1.0, "r2": 1.0}},
])
def test_n_steps_then_resume_then_n_equals_2n_bitwise(tmp_path, over):
    a = train(tiny(steps=4, **over), tmp_path / "a", progress=False)
    train(tiny(steps=2, checkpoint_every=2, **over), tmp_path / "b", progress=False)
    train(tiny(steps=4, checkpoint_every=2, **over), tmp_path / "b", resume=True, progress=False)
    sa, sb = load_latest_state(a.run_dir), load_latest_state(tmp_path / "b")
    for net in sa["objective"]["modules"]:
        for k, v in sa["objective"]["modules"][net].items():
            assert torch.equal(v, sb["objective"]["modules"][net][k]), (net, k)
    assert sb["objective"]["terms"] == sa["objective"]["terms"]
    rows = lambda p: untimed([json.loads(l) for l in (p / "stats.jsonl").read_text().splitlines()])
    assert rows(a.run_dir) == rows(tmp_path / "b")


def test_r3_is_rpgan_with_r1_and_r2():
    cfg = tiny(objective={"name": "r3"})
    from dfmgan.objectives.r3 import GAMMA

    assert cfg.objective.adversarial == "rpgan" and cfg.objective.terms == {"r1": GAMMA, "r2": GAMMA}
    assert tiny(objective={"name": "r3", "r1": 0.5}).objective.terms["r1"] == 0.5  # a flag wins
    assert "r3" in OBJECTIVES and set(names()) >= {"r1", "r2"}


@pytest.mark.parametrize("flags,needle", [
    (["--r1", "-1"], "objective.r1 must be in 0..1e+06"),
    (["--r2", "nan"], "objective.r2 must be in"),
    (["--reg-every", "4"], "none is on"),
    (["--reg-every", "0", "--r1", "1"], "objective.reg_every must be in"),
    (["--r1", "1", "--compile"], "double backward"),
    (["--r2", "1", "--precision", "fp16"], "fp16"),
    (["--objective", "r3", "--compile"], "double backward"),
    (["--set", "objective.r3=1"], "objective"),
])
def test_settings_they_cannot_work_with_are_refused_before_any_file(tmp_path, flags, needle):
    out = tmp_path / "run"
    r = run_cli("train", "--preset", "digits", *flags, "--steps", "1", "--out", str(out), *TINY_FLAGS)
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()


def test_the_cli_and_python_spell_the_terms_alike():
    r = run_cli("train", "--preset", "digits", "--objective", "dfm", "--adversarial", "rpgan",
                "--r1", "0.5", "--reg-every", "3", "--print-config")
    assert r.returncode == 0, r.stderr
    cfg = build_config("digits", overrides={"objective": {"name": "dfm", "adversarial": "rpgan",
                                                          "r1": 0.5, "reg_every": 3}})
    d = cfg.to_dict()["objective"]
    assert (d["r1"], d["r2"], d["reg_every"]) == (0.5, 0.0, 3)
    assert "  r1: 0.5\n" in r.stdout and "  r2: 0.0\n" in r.stdout and "  reg_every: 3\n" in r.stdout


def test_the_step_cost_benchmark_times_the_studys_own_settings():
    """benchmarks/reg_cost.py resolves each setting of benchmarks/studies/r3-dfm.yaml as
    train does, so its ratios are the study's step costs; one step of the lazy r3 runs."""
    import importlib.util

    import yaml

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("reg_cost", root / "benchmarks" / "reg_cost.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    study = yaml.safe_load((root / "benchmarks" / "studies" / "r3-dfm.yaml").read_text())
    named = {"r3-dfm": "r3 + dfm"}
    assert {named.get(k, k): v for k, v in study["settings"].items()} == \
        {k: v for k, v in bench.SETTINGS.items() if "lazy" not in k}
    run, batch = bench.stepper({"objective.name": "r3", "objective.reg_every": 16})
    assert batch == 128 and run(1) > 0
