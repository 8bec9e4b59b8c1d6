"""The speed settings change how fast, not what is trained."""
import json

import torch
from conftest import TINY_FLAGS, run_cli
from safetensors.torch import load_file

import pytest

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only

FLAGS = ["--preset", "digits", "--steps", "2", *TINY_FLAGS]


def test_compiled_channels_last_training_matches_eager(tmp_path):
    assert run_cli("train", *FLAGS, "--out", str(tmp_path / "eager")).returncode == 0
    r = run_cli("train", *FLAGS, "--compile", "--channels-last", "--out", str(tmp_path / "fast"))
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((tmp_path / "fast" / "config.json").read_text())
    assert cfg["speed"]["compile"] and cfg["speed"]["channels_last"]
    init = initial_weights(tmp_path / "eager")
    for net in ("generator", "discriminator"):
        a, b = (load_file(tmp_path / d / f"{net}.safetensors") for d in ("eager", "fast"))
        assert a.keys() == b.keys()  # compiling keeps the snapshot's names
        # Kernels may sum in another order, and Adam can turn a ~0 gradient's sign into
        # ±lr, so single weights may differ by about the whole update; the update as a
        # whole must not: same direction, same size (a run that never updated has none)
        moved = lambda w: torch.cat([(w[k].float() - init[net][k].float()).flatten()
                                     for k in w if w[k].is_floating_point() and "running" not in k
                                     and "num_batches" not in k])
        da, db = moved(a), moved(b)
        # the rebuilt init is the run's: 2 Adam steps of lr 2e-4 move no weight by more
        # than a few lr, where a wrong init would be off by the init's scale (0.02)
        assert 0 < da.abs().max() < 10 * 2 * 2e-4, net
        assert torch.nn.functional.cosine_similarity(da, db, dim=0) > 0.99, net
        assert 0.9 < (db.norm() / da.norm()).item() < 1.1, net


def initial_weights(run) -> dict:
    """G's and D's weights before the first step: rebuilt from the run's config and seed,
    as the trainer builds them."""
    from dfmgan.models import Discriminator, Generator
    from dfmgan.training.rundir import RunDir

    cfg = RunDir(run).saved_config()
    torch.manual_seed(cfg.seed)
    G, D = Generator(cfg.net), Discriminator(cfg.net)
    return {"generator": G.state_dict(), "discriminator": D.state_dict()}


def test_bf16_autocast_on_cpu_and_fp16_refused(tmp_path):
    r = run_cli("train", *FLAGS, "--precision", "bf16", "--out", str(tmp_path / "bf16"))
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(l) for l in (tmp_path / "bf16" / "stats.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(torch.isfinite(torch.tensor(r["loss/G"])) for r in rows)
    r = run_cli("train", *FLAGS, "--precision", "fp16", "--out", str(tmp_path / "fp16"))
    assert r.returncode == 2 and "fp16 needs a GPU" in r.stderr


def test_fused_adam_matches_the_per_tensor_loop():
    """The fused kernel and torch's per-tensor loop take the same steps, up to rounding."""
    from dfmgan.config import ObjectiveConfig, OptimConfig
    from dfmgan.models import Discriminator, Generator, NetConfig
    from dfmgan.objectives import build_objective

    def run(fused: bool):
        torch.manual_seed(0)
        cfg = NetConfig(size=28, channels=1, g_width=8, d_width=8)
        obj = build_objective(Generator(cfg), Discriminator(cfg), ObjectiveConfig("dfm"), OptimConfig())
        assert all(o.defaults["fused"] for o in obj.opt.values())  # the default path
        if not fused:
            for k in obj.opt:
                obj.opt[k] = torch.optim.Adam(obj.nets[k].parameters(), lr=2e-4, betas=(0.5, 0.999))
        g = torch.Generator().manual_seed(1)
        for _ in range(3):
            torch.manual_seed(2)  # DFM's corruption noise: the same in both runs
            obj.step(torch.rand(16, 1, 28, 28, generator=g) * 2 - 1, obj.G.sample_latent(16, g))
        return {k: m.state_dict() for k, m in obj.nets.items()}

    a, b = run(True), run(False)
    for net in a:
        for k in a[net]:
            assert torch.allclose(a[net][k].float(), b[net][k].float(), atol=5e-4), (net, k)


def test_one_d_pass_for_two_sources_equals_two_passes():
    """The merged-pass lever (benchmarks/merged_d_pass.py, measured and not adopted on the
    CPU) keeps per-source BatchNorm: logits, gradients and running statistics agree with
    two passes, and one BatchNorm over the whole concatenation would not."""
    import importlib.util
    from pathlib import Path

    from dfmgan.models import Discriminator, NetConfig

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "merged_d_pass.py"
    spec = importlib.util.spec_from_file_location("merged_d_pass", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    torch.manual_seed(0)
    D = Discriminator(NetConfig(size=32, channels=1, d_width=8, g_width=8))
    real = torch.randn(6, 1, 32, 32)
    fake = (torch.randn(6, 1, 32, 32) * 3 + 1).requires_grad_()  # unlike real: stats differ
    assert bench.agree(D, real, fake)
    shared = D(torch.cat([real, fake])).chunk(2)  # shared statistics: a different function
    assert not torch.allclose(shared[1], bench.two_passes(D, [real, fake])[1], atol=1e-3)
