"""The generator EMA: its formula, BatchNorm buffers, bitwise resume, and that sample and
eval read the EMA weights (and the raw ones with --no-ema)."""
import io

import numpy as np
import pytest
import torch
from conftest import TINY_FLAGS, run_cli

from dfmgan.checkpoint import load_latest_state
from dfmgan.models import Generator, NetConfig
from dfmgan.snapshot import load_generator
from dfmgan.training import train
from dfmgan.training.ema import GeneratorEMA

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only


def test_one_update_is_the_formula():
    G = Generator(NetConfig(size=28, channels=1, g_width=4, nz=8))
    ema = GeneratorEMA(G, half_life_images=1000, batch_size=100)
    beta = 0.5 ** (100 / 1000)
    assert ema.beta == pytest.approx(beta)
    before = {k: v.clone() for k, v in ema.net.state_dict().items()}
    with torch.no_grad():
        for i, p in enumerate(G.parameters()):
            p.add_(0.5 + i)  # the raw net moves
        G.train()(G.sample_latent(16))  # and its BatchNorm running statistics change
    ema.update(G)
    raw = dict(G.named_parameters())
    for name, p in ema.net.named_parameters():
        expected = beta * before[name] + (1 - beta) * raw[name]
        assert torch.allclose(p, expected, rtol=0, atol=1e-6), name
    for (name, b), b_raw in zip(ema.net.named_buffers(), G.buffers()):
        assert torch.equal(b, b_raw), f"{name} is copied from G, not averaged"
    assert not any(p.requires_grad for p in ema.net.parameters())


def test_resume_with_ema_is_bitwise(tmp_path, tiny_cfg):
    train(tiny_cfg(steps=8, ema=200.0), tmp_path / "a", progress=False)
    train(tiny_cfg(steps=4, ema=200.0), tmp_path / "b", progress=False)
    train(tiny_cfg(steps=8, ema=200.0), tmp_path / "b", resume=True, progress=False)
    a, b = load_latest_state(tmp_path / "a"), load_latest_state(tmp_path / "b")
    for k in a["ema"]:
        assert torch.equal(a["ema"][k], b["ema"][k]), k
    assert (tmp_path / "b" / "generator_ema.safetensors").read_bytes() == \
        (tmp_path / "a" / "generator_ema.safetensors").read_bytes()


def test_ema_does_not_change_training(tmp_path, tiny_cfg):
    train(tiny_cfg(steps=4), tmp_path / "raw", progress=False)
    train(tiny_cfg(steps=4, ema=100.0), tmp_path / "ema", progress=False)
    a, b = load_latest_state(tmp_path / "raw"), load_latest_state(tmp_path / "ema")
    for k, v in a["objective"]["modules"]["G"].items():
        assert torch.equal(v, b["objective"]["modules"]["G"][k])


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ema") / "run"
    # a half-life of 16 images at batch 16: β = 1/2, so the EMA is far from the raw G
    r = run_cli("train", "--preset", "digits", "--out", str(out), "--steps", "3", "--ema", "16",
                *TINY_FLAGS)
    assert r.returncode == 0, r.stderr
    return out


def npz(path) -> torch.Tensor:
    return torch.from_numpy(np.load(io.BytesIO(path.read_bytes()))["images"])


def test_sample_reads_the_ema_unless_told(ema_run, tmp_path):
    ema = load_generator(ema_run / "generator_ema.safetensors").sample(8, seed=3)
    raw = load_generator(ema_run / "generator.safetensors").sample(8, seed=3)
    assert not torch.equal(ema, raw)
    assert load_generator(ema_run).meta["ema"] == 16.0
    for flags, expected in [([], ema), (["--no-ema"], raw)]:
        out = tmp_path / f"s{len(flags)}.npz"
        r = run_cli("sample", str(ema_run), "--n", "8", "--seed", "3", "--out", str(out), *flags)
        assert r.returncode == 0, r.stderr
        assert torch.equal(npz(out).permute(0, 3, 1, 2), expected)


def test_eval_reads_the_ema_unless_told(ema_run, tmp_path):
    def fid(source, *flags):
        r = run_cli("eval", str(source), "--metrics", "fid", "--n", "200", "--out",
                    str(tmp_path / "m.jsonl"), *flags)
        assert r.returncode == 0, r.stderr
        return float(r.stdout.split("fid:")[1].split()[0])

    by_file = fid(ema_run / "generator_ema.safetensors")
    raw = fid(ema_run / "generator.safetensors")
    assert by_file != raw
    assert fid(ema_run) == by_file and fid(ema_run, "--no-ema") == raw
