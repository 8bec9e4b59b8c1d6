import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from conftest import TINY_FLAGS, run_cli
from formats import write_mnist
from PIL import Image

from dfmgan.checkpoint import read_state, state_paths

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    r = run_cli("train", "--preset", "digits", "--out", str(out), "--steps", "6",
                "--sample-every", "3", "--checkpoint-every", "3", "--keep", "5", *TINY_FLAGS)
    assert r.returncode == 0, r.stderr
    return out


def test_train_writes_every_file(run_dir):
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["preset"] == "digits" and cfg["steps"] == 6 and cfg["net"]["g_width"] == 8
    rows = [json.loads(l) for l in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert set(rows[0]) == {"step", "loss/D", "loss/G", "D(x)", "D(G(z))", "time/train_s", "time/data_wait",
                            "time/machine"}
    assert all(0 < a["time/train_s"] <= b["time/train_s"] for a, b in zip(rows, rows[1:]))
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == \
        ["00000003.png", "00000006.png", "latest.png"]
    grid = Image.open(run_dir / "samples" / "latest.png")
    assert grid.size == (2 * (4 * 30 + 2),) * 2  # 16 images of 28 px, 2 px borders, x2
    assert [s for s, _ in state_paths(run_dir)] == [3, 6]
    assert read_state(state_paths(run_dir)[-1][1])["step"] == 6
    meta = json.loads((run_dir / "generator.json").read_text())
    assert meta["net"]["size"] == 28 and meta["step"] == 6
    assert (run_dir / "generator.safetensors").stat().st_size > 0


@pytest.mark.parametrize("suffix", ["grid.png", "s.npz", "pngs"])
def test_sample_formats(run_dir, tmp_path, suffix):
    out = tmp_path / suffix
    r = run_cli("sample", str(run_dir), "--n", "5", "--out", str(out), "--seed", "1")
    assert r.returncode == 0, r.stderr
    if suffix.endswith(".npz"):
        x = np.load(out)["images"]
        assert x.shape == (5, 28, 28, 1) and x.dtype == np.uint8
    elif suffix.endswith(".png"):
        assert Image.open(out).size[0] > 32
    else:
        files = sorted(out.iterdir())
        assert len(files) == 5 and Image.open(files[0]).size == (28, 28)


def test_sample_from_snapshot_is_seeded(run_dir, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for p in (a, b):
        assert run_cli("sample", str(run_dir / "generator.safetensors"), "--n", "3",
                       "--out", str(p)).returncode == 0
    assert np.array_equal(np.load(a)["images"], np.load(b)["images"])


def test_info(run_dir):
    r = run_cli("info", str(run_dir), "--json")
    info = json.loads(r.stdout)
    assert info["data"] == "digits" and [c["step"] for c in info["checkpoints"]] == [3, 6]
    assert info["generator"]["step"] == 6 and info["generator"]["parameters"] > 0
    r = run_cli("info", str(run_dir / "generator.safetensors"))
    assert r.returncode == 0 and "parameters" in r.stdout


def test_help_has_examples():
    r = run_cli("train", "--help")
    assert r.returncode == 0 and "examples:" in r.stdout and "--resume" in r.stdout


def _assert_one_line_error(r, needle):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize("args,needle", [
    (["--data", "imagenette"], "unknown dataset"),
    (["--data", "mnist", "--data-root", "/nonexistent/mnist"], "train-images-idx3-ubyte.gz"),
    (["--data", "cifar10", "--data-root", "/nonexistent/c"], "cifar-10-python.tar.gz"),
    (["--data", "svhn"], "no data root given; pass --data-root with train_32x32.mat"),
    (["--data", "mnist", "--data-root", "/tmp"], "train-images-idx3-ubyte"),
    (["--preset", "digits", "--size", "40"], "unsupported image size 40"),
    (["--preset", "digits", "--set", "net.g_width=wide"], "must be a number"),
    (["--preset", "digits", "--set", "colour=red"], "unknown config key"),
    (["--preset", "nope"], "invalid choice"),
    (["--preset", "digits", "--steps", "ten"], "invalid int value"),
    (["--preset", "digits", "--config", "/nonexistent.yaml"], "cannot read config file"),
])
def test_bad_flags_and_data(tmp_path, args, needle):
    out = tmp_path / "run"
    _assert_one_line_error(run_cli("train", *args, "--out", str(out), "--no-progress"), needle)
    assert not out.exists()  # nothing written for a run that could not start


def test_corrupt_file_and_empty_folder(tmp_path):
    write_mnist(tmp_path / "m")
    p = tmp_path / "m" / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:100])
    _assert_one_line_error(run_cli("train", "--data", "mnist", "--data-root", str(tmp_path / "m"),
                                   "--out", str(tmp_path / "r")), "truncated or corrupt")
    (tmp_path / "empty").mkdir()
    _assert_one_line_error(run_cli("train", "--data", "folder", "--data-root", str(tmp_path / "empty"),
                                   "--out", str(tmp_path / "r")), "no .png")


def _snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_existing_run_is_never_overwritten(run_dir):
    before = _snapshot(run_dir)
    _assert_one_line_error(run_cli("train", "--preset", "digits", "--out", str(run_dir),
                                   *TINY_FLAGS), "already holds a run")
    _assert_one_line_error(run_cli("train", "--resume", str(run_dir), "--batch-size", "32",
                                   "--no-progress"), "different config")
    _assert_one_line_error(run_cli("train", "--resume", str(run_dir), "--preset", "mnist",
                                   "--no-progress"), "different config")
    assert _snapshot(run_dir) == before


def test_checkpoint_from_another_config(run_dir, tmp_path):
    import shutil

    other = tmp_path / "other"
    assert run_cli("train", "--preset", "digits", "--out", str(other), "--steps", "2",
                   *TINY_FLAGS, "--set", "net.g_width=4").returncode == 0
    shutil.copy(state_paths(run_dir)[-1][1], other / "checkpoints" / "state-00000099.pt")
    before = _snapshot(other)
    _assert_one_line_error(run_cli("train", "--resume", str(other), "--steps", "200",
                                   "--no-progress"), "another configuration")
    assert _snapshot(other) == before


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("I am a file")
    _assert_one_line_error(run_cli("train", "--preset", "digits", "--out", str(blocker / "run"),
                                   *TINY_FLAGS), f"cannot write to {blocker / 'run'}: {blocker} is a file")
    assert blocker.read_text() == "I am a file"


def test_sample_bad_inputs(tmp_path):
    _assert_one_line_error(run_cli("sample", str(tmp_path), "--out", str(tmp_path / "x.png")),
                           "no generator snapshot")
    (tmp_path / "generator.safetensors").write_bytes(b"junk")
    (tmp_path / "generator.json").write_text(json.dumps({"net": {"size": 32, "channels": 1}}))
    _assert_one_line_error(run_cli("sample", str(tmp_path), "--out", str(tmp_path / "x.png")),
                           "cannot read")


def test_resume_on_another_device_setting(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    r = run_cli("train", "--resume", str(copy), "--steps", "8", "--device", "cpu", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert json.loads((copy / "config.json").read_text())["steps"] == 8


def test_dfm_end_to_end_from_the_cli(tmp_path):
    out = tmp_path / "dfm"
    r = run_cli("train", "--preset", "fashion-mnist", "--objective", "dfm", "--out", str(out),
                "--steps", "3", "--checkpoint-every", "3", "--set", "objective.dfm.denoiser.width=16",
                *TINY_FLAGS)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["objective"]["scheme"] == "simultaneous" and cfg["optim"]["lr"] == 2e-4
    assert cfg["objective"]["dfm"]["lambda_scale"] == 1000.0  # the dfm defaults (BENCHMARKS.md)
    assert cfg["ema"] == 10_000 and (out / "generator_ema.safetensors").exists()  # the preset's
    rows = [json.loads(l) for l in (out / "stats.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and {"dfm/denoiser_loss", "dfm/residual_gen", "loss/G_adv",
                               "dfm/G_denoise"} <= set(rows[0])
    state = read_state(state_paths(out)[-1][1])
    assert set(state["objective"]["modules"]) == {"G", "D", "R"}
    assert (out / "samples" / "latest.png").exists()


def test_config_file_then_flags_override(tmp_path):
    """defaults < preset < --config FILE < flags; the resolved values land in config.json."""
    cfg_file = tmp_path / "my.yaml"
    cfg_file.write_text("steps: 2\nseed: 7\nnet:\n  g_width: 6\n  latent: normal\n")
    out = tmp_path / "run"
    r = run_cli("train", "--preset", "digits", "--config", str(cfg_file), "--out", str(out),
                "--seed", "9", *TINY_FLAGS[:2], "--batch-size", "16", "--no-progress")
    assert r.returncode == 0, r.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["steps"] == 2 and cfg["net"]["latent"] == "normal"  # from the file
    assert cfg["seed"] == 9 and cfg["net"]["g_width"] == 8  # flags beat the file
    assert cfg["net"]["size"] == 28  # the preset below both


def test_tensorboard_scalars_when_installed(run_dir):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("loss/D")] == [1, 2, 3, 4, 5, 6]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 64), st.floats(0, 200, allow_nan=False))
def test_threads_auto_leaves_the_loaded_cores_to_the_load(cores, load):
    """The cores the load leaves free, rounded, within 1..cores; idle gives every core."""
    from dfmgan.devices import auto_threads

    n = auto_threads(cores, load)
    assert 1 <= n <= cores and n == max(1, min(cores, int(cores - load + 0.5)))
    assert auto_threads(cores, 0.0) == cores and auto_threads(2, 0.6) == 1 and auto_threads(2, 0.4) == 2


def test_threads_auto_says_what_it_chose(capsys):
    import torch

    from dfmgan.devices import threads_set

    before = torch.get_num_threads()
    with threads_set("auto"):
        inside = torch.get_num_threads()
    err = capsys.readouterr().err
    assert f"--threads auto: {inside} (load " in err and err.count("\n") == 1
    assert torch.get_num_threads() == before
