"""The speed settings change how fast, not what is trained."""
import json

import torch
from conftest import TINY_FLAGS, run_cli
from safetensors.torch import load_file

FLAGS = ["--preset", "digits", "--steps", "2", *TINY_FLAGS]


def test_compiled_channels_last_training_matches_eager(tmp_path):
    assert run_cli("train", *FLAGS, "--out", str(tmp_path / "eager")).returncode == 0
    r = run_cli("train", *FLAGS, "--compile", "--channels-last", "--out", str(tmp_path / "fast"))
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((tmp_path / "fast" / "config.json").read_text())
    assert cfg["speed"]["compile"] and cfg["speed"]["channels_last"]
    a, b = (load_file(tmp_path / d / "generator.safetensors") for d in ("eager", "fast"))
    assert a.keys() == b.keys()  # compiling keeps the snapshot's names
    for k in a:
        # kernels may sum in another order; Adam can turn a ~0 gradient's sign into ±lr
        assert (a[k].float() - b[k].float()).abs().max() < 5e-4, k


def test_bf16_autocast_on_cpu_and_fp16_refused(tmp_path):
    r = run_cli("train", *FLAGS, "--precision", "bf16", "--out", str(tmp_path / "bf16"))
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(l) for l in (tmp_path / "bf16" / "stats.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(torch.isfinite(torch.tensor(r["loss/G"])) for r in rows)
    r = run_cli("train", *FLAGS, "--precision", "fp16", "--out", str(tmp_path / "fp16"))
    assert r.returncode == 2 and "fp16 needs a GPU" in r.stderr
