import copy
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import untimed, minimal_state, TINY_FLAGS, run_cli

from dfmgan.checkpoint import atomic_write, load_latest_state, save_state, state_paths
from dfmgan.config import ObjectiveConfig, OptimConfig
from dfmgan.data import load_dataset, to_float
from dfmgan.errors import CheckpointError
from dfmgan.models import Discriminator, Generator, NetConfig
from dfmgan.objectives import OBJECTIVES, build_objective
from dfmgan.sampling import bn_mode, sample
from dfmgan.training import train


def _params(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def test_one_gan_step_on_a_fixed_batch():
    torch.manual_seed(0)
    cfg = NetConfig(size=32, channels=1, g_width=8, d_width=8)
    G, D = Generator(cfg), Discriminator(cfg)
    obj = build_objective(G, D, ObjectiveConfig("gan"), OptimConfig())
    real = to_float(load_dataset("digits", size=32).images[:16])
    z = G.sample_latent(16, torch.Generator().manual_seed(1))
    g0, d0 = _params(G), _params(D)
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)  # as they were before the step
    stats = obj.step(real, z)
    assert set(stats) == {"loss/D", "loss/G", "D(x)", "D(G(z))"}
    # the values by hand, from the networks themselves (train mode: batch statistics, one
    # pass per source): D's BCE on (x, G(z)) before its update, D(x) and D(G(z)) as the
    # mean sigmoid of those logits, and G's -log D(G(z)) against the updated D (alternating)
    softplus = torch.nn.functional.softplus
    with torch.no_grad():
        fake = G0(z)
        d_real, d_fake = D0(real), D0(fake)
        want = {"loss/D": softplus(-d_real).mean() + softplus(d_fake).mean(),
                "D(x)": torch.sigmoid(d_real).mean(), "D(G(z))": torch.sigmoid(d_fake).mean(),
                "loss/G": softplus(-copy.deepcopy(D)(fake)).mean()}
    for k, v in want.items():
        assert float(stats[k]) == pytest.approx(float(v), rel=1e-5, abs=1e-6), k
    moved = lambda a, b: any(not torch.equal(a[k], b[k]) for k in a if "weight" in k)
    assert moved(g0, _params(G)) and moved(d0, _params(D))
    assert all(p.requires_grad for p in D.parameters())  # unfrozen after G's step


def test_g_step_leaves_no_gradient_in_d():
    """After a step, D's .grad must be exactly the gradient of D's own loss: the
    generator's loss, computed through D afterwards, must add nothing to it."""
    import copy

    from dfmgan.objectives.adversarial import NonSaturating

    torch.manual_seed(0)
    cfg = NetConfig(size=28, channels=1, g_width=4, d_width=4)
    G, D = Generator(cfg), Discriminator(cfg)
    obj = build_objective(G, D, ObjectiveConfig("gan"), OptimConfig())
    real, z = torch.rand(8, 1, 28, 28) * 2 - 1, G.sample_latent(8)
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    obj.step(real, z)
    fake = G0(z).detach()
    NonSaturating().d_loss(D0(real), D0(fake)).backward()
    for p, p0 in zip(D.parameters(), D0.parameters()):
        assert torch.allclose(p.grad, p0.grad, atol=1e-7), "G's loss leaked into D's gradient"


def test_sampling_does_not_touch_batchnorm_buffers():
    G = Generator(NetConfig(size=32, channels=1, g_width=8))
    G.train()
    G(G.sample_latent(32))  # give the running stats some values
    before = _params(G)
    for mode in ("batch", "running"):
        x = sample(G, 10, seed=0, mode=mode)
        assert x.shape == (10, 1, 32, 32) and x.dtype == torch.uint8
    after = _params(G)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert G.training  # mode restored
    assert torch.equal(sample(G, 10, seed=4), sample(G, 10, seed=4))


def test_bn_mode_batch_uses_batch_statistics():
    G = Generator(NetConfig(size=28, channels=1, g_width=4))
    z = G.sample_latent(64)
    with torch.no_grad(), bn_mode(G, "running"):
        a = G(z)
    with torch.no_grad(), bn_mode(G, "batch"):
        b = G(z)
    assert not torch.allclose(a, b)  # fresh running stats (0, 1) differ from the batch's


def _states_equal(a: dict, b: dict) -> None:
    for k in a:
        if isinstance(a[k], dict):
            _states_equal(a[k], b[k])
        elif isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


@pytest.mark.slow
def test_resume_is_bitwise_exact(tmp_path, tiny_cfg):
    straight = train(tiny_cfg(steps=8), tmp_path / "a", progress=False)
    assert straight.step == 8
    train(tiny_cfg(steps=4), tmp_path / "b", progress=False)
    resumed = train(tiny_cfg(steps=8), tmp_path / "b", resume=True, progress=False)
    assert resumed.step == 8
    a, b = load_latest_state(tmp_path / "a"), load_latest_state(tmp_path / "b")
    _states_equal(a["objective"], b["objective"])
    _states_equal(a["rng"], b["rng"])
    assert a["sampler"] == b["sampler"]
    rows = [json.loads(l) for l in (tmp_path / "b" / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9))
    ref = [json.loads(l) for l in (tmp_path / "a" / "stats.jsonl").read_text().splitlines()]
    assert untimed(rows) == untimed(ref)
    # the wall clock goes on from the checkpoint: training seconds never fall back
    clock = [r["time/train_s"] for r in rows if "time/train_s" in r]
    assert len(clock) == 8 and clock == sorted(clock) and clock[0] > 0


def test_checkpoints_keep_last_k_and_are_atomic(tmp_path, capsys):
    for step in range(1, 6):
        save_state(tmp_path, step, minimal_state(step), keep=2)
    assert [s for s, _ in state_paths(tmp_path)] == [4, 5]
    assert load_latest_state(tmp_path)["objective"]["modules"]["G"]["w"][0].item() == 5
    (tmp_path / "checkpoints" / "state-00000006.pt").write_bytes(b"torn")  # not via atomic_write
    assert load_latest_state(tmp_path)["step"] == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["dfmgan: skipping state-00000006.pt: "
                   f"{tmp_path / 'checkpoints' / 'state-00000006.pt'} is not a dfmgan checkpoint "
                   "(empty or foreign)"]
    assert not list((tmp_path / "checkpoints").glob(".*tmp"))


def test_checkpoint_loading_never_unpickles_code(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "state-00000001.pt").write_bytes(pickle.dumps({"format": 1, "e": Evil()}))
    with pytest.raises(CheckpointError):
        load_latest_state(tmp_path)
    assert not (tmp_path / "pwned").exists()


def test_atomic_write_gives_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "f.bin"
    atomic_write(p, b"old")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    from dfmgan.files import WriteError

    with pytest.raises(WriteError, match="disk full; the previous f.bin"):
        atomic_write(p, b"new")
    assert p.read_bytes() == b"old" and [x.name for x in tmp_path.iterdir()] == ["f.bin"]


def _spawn(out, steps, extra=()):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "dfmgan", "train", "--preset", "digits", "--out", str(out),
           "--steps", str(steps), "--checkpoint-every", "5", "--sample-every", "1000", *TINY_FLAGS, *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(out, min_step, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if state_paths(out) and state_paths(out)[-1][0] >= min_step:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(tmp_path):
    out = tmp_path / "run"
    proc = _spawn(out, 100000)
    _wait_for_checkpoint(out, 15, proc)
    proc.kill()  # SIGKILL: no handler runs
    proc.wait()
    killed_at = state_paths(out)[-1][0]
    r = run_cli("train", "--resume", str(out), "--steps", str(killed_at + 7), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert state_paths(out)[-1][0] == killed_at + 7
    steps = [json.loads(l)["step"] for l in (out / "stats.jsonl").read_text().splitlines()]
    assert steps == list(range(1, killed_at + 8))  # nothing lost, nothing doubled


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_writes_a_checkpoint_and_exits_cleanly(tmp_path, sig):
    out = tmp_path / "run"
    proc = _spawn(out, 100000)
    _wait_for_checkpoint(out, 5, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert "Continue with: dfmgan train --resume" in err and "Traceback" not in err
    last = state_paths(out)[-1][0]
    steps = [json.loads(l)["step"] for l in (out / "stats.jsonl").read_text().splitlines()]
    assert steps[-1] == last  # the checkpoint is of the very last step run


@pytest.mark.slow
@pytest.mark.parametrize("objective", sorted(OBJECTIVES))  # a new one is tested unasked
def test_resume_is_bitwise_exact_for_every_objective(tmp_path, tiny_cfg, objective):
    """DFM's corruption noise and step counter (σ schedule) resume too, as do WGAN-GP's
    critic steps and penalty draws."""
    own = {"denoiser": {"width": 32, "anneal_steps": 10}} if objective == "dfm" else {}
    over = {"objective": {"name": objective, objective: own}}
    train(tiny_cfg(steps=6, **over), tmp_path / "a", progress=False)
    train(tiny_cfg(steps=3, **over), tmp_path / "b", progress=False)
    train(tiny_cfg(steps=6, **over), tmp_path / "b", resume=True, progress=False)
    a, b = load_latest_state(tmp_path / "a"), load_latest_state(tmp_path / "b")
    _states_equal(a["objective"], b["objective"])
    assert a["objective"]["t"] == 6
