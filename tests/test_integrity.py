"""Nothing is lost: corrupt checkpoints and snapshots are detected (a checksum in every
file), a bad file never counts towards --keep, a NaN loss stops the run with its last
good state, a SIGKILL at any moment leaves stats that hold each step exactly once after
resume, a full disk leaves the previous checkpoint intact, and Ctrl-C never prints a
traceback."""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given, strategies as st

from conftest import TINY_FLAGS, minimal_state, run_cli
from dfmgan.checkpoint import load_latest_state, read_state, save_state, state_paths
from dfmgan.errors import CheckpointError

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only

TRAIN = ["train", "--preset", "digits", *TINY_FLAGS]


def steps_logged(run) -> list[int]:
    return [json.loads(ln)["step"] for ln in (run / "stats.jsonl").read_text().splitlines()]


def flip(path, at: float = 0.6) -> None:
    blob = bytearray(path.read_bytes())
    blob[int(len(blob) * at)] ^= 0x10
    path.write_bytes(bytes(blob))


def one_line(r, needle: str, status: int = 2) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == status and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def run4(tmp_path_factory):
    out = tmp_path_factory.mktemp("integrity") / "run"
    r = run_cli(*TRAIN, "--out", str(out), "--steps", "4", "--checkpoint-every", "2",
                "--log-every", "3")
    assert r.returncode == 0, r.stderr
    return out


# --- 4. corrupt inputs ------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_a_damaged_newest_checkpoint_is_skipped_in_one_line(run4, tmp_path, damage):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run4, run)
    newest = run / "checkpoints" / "state-00000004.pt"
    if damage == "flip":
        flip(newest)
    else:
        newest.write_bytes(newest.read_bytes()[:200] if damage == "truncate" else b"")
    with pytest.raises(CheckpointError):
        read_state(newest)
    r = run_cli("train", "--resume", str(run), "--steps", "6", "--no-progress")
    assert r.returncode == 0, r.stderr
    skipped = [ln for ln in r.stderr.splitlines() if "skipping" in ln]
    assert len(skipped) == 1 and "state-00000004.pt" in skipped[0] and "Warning" not in r.stderr
    assert steps_logged(run) == [1, 2, 3, 4, 5, 6]  # resumed from step 2, each step once


def test_a_flipped_byte_in_a_snapshot_is_an_error_not_a_different_network(run4, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run4, run)
    flip(run / "generator.safetensors", at=0.9)  # in the weights, past the header
    r = run_cli("sample", str(run), "--out", str(tmp_path / "g.png"))
    one_line(r, "is corrupt")
    assert not (tmp_path / "g.png").exists()


def test_files_that_are_not_checkpoints_never_count_towards_keep(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    junk = [tmp_path / "checkpoints" / f"state-{s:08d}.pt" for s in (90, 91)]
    junk[0].write_bytes(b"")
    junk[1].write_bytes(b"PK\x03\x04 not really")
    for step in range(1, 5):
        save_state(tmp_path, step, minimal_state(step), keep=2)
    assert [s for s, _ in state_paths(tmp_path)] == [3, 4, 90, 91]  # two good ones kept
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert load_latest_state(tmp_path)["step"] == 4
    assert len(err.getvalue().splitlines()) == 2  # one line per skipped file


def test_a_state_written_before_checksums_still_loads(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    torch.save({"format": 1, "step": 7, **minimal_state(7)}, tmp_path / "checkpoints" / "state-00000007.pt")
    assert load_latest_state(tmp_path)["step"] == 7


# --- 5. NaN / inf ------------------------------------------------------------------------
def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_state(tmp_path, monkeypatch):
    from dfmgan.cli import main
    from dfmgan.objectives.gan import GANObjective

    calls = {"n": 0}
    real_g_loss = GANObjective.g_loss

    def g_loss(self, fake, real):
        calls["n"] += 1
        loss, stats = real_g_loss(self, fake, real)
        return (loss * float("nan") if calls["n"] >= 5 else loss), stats

    monkeypatch.setattr(GANObjective, "g_loss", g_loss)
    run = tmp_path / "run"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([*TRAIN, "--out", str(run), "--steps", "8", "--checkpoint-every", "2",
                     "--keep", "1", "--log-every", "4"])
    assert code == 3 and len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    assert "NaN or inf at or before step 5" in err.getvalue() and "(step 4)" in err.getvalue()
    assert [s for s, _ in state_paths(run)] == [4]  # --keep 1 still holds the good one
    state = read_state(state_paths(run)[-1][1])
    assert all(torch.isfinite(v).all() for v in state["objective"]["modules"]["G"].values()
               if v.is_floating_point())
    assert json.loads((run / "generator.json").read_text())["step"] == 4


# --- 6. SIGKILL --------------------------------------------------------------------------
def start(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "dfmgan", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_sigkill_at_random_moments_leaves_each_step_logged_exactly_once(tmp_path):
    rnd = random.Random(13)
    run = tmp_path / "run"
    args = [*TRAIN, "--steps", "60", "--checkpoint-every", "7", "--log-every", "3"]
    first = True
    for _ in range(3):
        p = start([*args, "--out", str(run)] if first else ["train", "--resume", str(run),
                                                           "--no-progress"])
        time.sleep(rnd.uniform(4.0, 7.0))  # start-up, then somewhere in training
        p.kill()
        p.wait()
        first = first and not (run / "config.json").exists()
    # on a loaded machine every kill may land in start-up, before config.json: then the run
    # is started again, as a user would, rather than resumed
    final = [*args, "--out", str(run)] if first else ["train", "--resume", str(run)]
    r = run_cli(*final, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert steps_logged(run) == list(range(1, 61))
    assert not list(run.rglob(".*.tmp"))


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_0(tmp_path):
    run = tmp_path / "run"
    p = start([*TRAIN, "--out", str(run), "--steps", "100000", "--checkpoint-every", "100000"])
    deadline = time.time() + 60
    while not (run / "stats.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    p.kill()
    p.wait()
    assert (run / "config.json").exists() and not state_paths(run)
    r = run_cli("train", "--resume", str(run), "--steps", "5", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert steps_logged(run) == [1, 2, 3, 4, 5]


# --- 7. a full disk ------------------------------------------------------------------------
def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    from dfmgan import files

    target = tmp_path / "f.json"
    target.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(files.WriteError, match="No space left on device"):
        files.atomic_write(target, b"new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["f.json"]


def test_a_size_limited_file_system_stops_the_run_in_one_line_and_it_resumes(run4, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run4, run)
    before = (run / "checkpoints" / "state-00000004.pt").read_bytes()
    limit = len(before) // 2  # stats, grids and configs fit; a checkpoint does not

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    p = subprocess.run([sys.executable, "-m", "dfmgan", "train", "--resume", str(run),
                        "--steps", "8", "--no-progress"], capture_output=True, text=True,
                       preexec_fn=small_disk, timeout=300)
    one_line(p, "File too large")
    assert "dfmgan train --resume" in p.stderr
    assert (run / "checkpoints" / "state-00000004.pt").read_bytes() == before
    assert not list(run.rglob(".*.tmp"))
    r = run_cli("train", "--resume", str(run), "--steps", "8", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert steps_logged(run) == list(range(1, 9))


# --- 8. Ctrl-C -------------------------------------------------------------------------------
def test_ctrl_c_inside_an_extension_import_is_a_quiet_130_and_a_real_import_error_is_not(monkeypatch):
    import dfmgan.__main__ as entry
    import dfmgan.cli

    def ctrl_c_in_module_init():  # what scipy's extension init turns a Ctrl-C into
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as e:
            raise ImportError("initialization failed") from e

    monkeypatch.setattr(dfmgan.cli, "main", ctrl_c_in_module_init)
    with pytest.raises(SystemExit) as stop:
        entry.run()
    assert stop.value.code == 130

    def missing_module():
        raise ImportError("No module named 'nothere'")

    monkeypatch.setattr(dfmgan.cli, "main", missing_module)
    with pytest.raises(ImportError, match="nothere"):
        entry.run()


@pytest.mark.parametrize("delay", [0.15, 0.4, 0.8, 1.5, 3.0])
def test_ctrl_c_at_any_moment_prints_no_traceback(tmp_path, delay):
    p = start([*TRAIN, "--out", str(tmp_path / "run"), "--steps", "3000"])
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert "Traceback" not in err, err
    # 130: our handler caught it; -2: the interpreter ended by the signal itself (it does
    # when SIGINT lands while it starts or finalises): a shell shows 130 for both
    assert p.returncode in (130, -signal.SIGINT, 0), (p.returncode, err)


CORRUPT = {
    "config.json": b"{bad",
    "generator.json": b"[1, 2]",
    "discriminator.safetensors": b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":",
    "generator.safetensors": b"",
}


@pytest.mark.parametrize("name,argv", [
    ("config.json", ["train", "--resume", "{run}", "--no-progress"]),
    ("config.json", ["info", "{run}"]),
    ("generator.json", ["sample", "{run}", "--out", "{tmp}/x.png"]),
    ("discriminator.safetensors", ["visualize", "{run}", "--n", "20", "--out", "{tmp}/v.png"]),
    ("generator.safetensors", ["info", "{run}/generator.safetensors"]),
    ("generator.safetensors", ["export", "{run}", "--out", "{tmp}/share"]),
])
def test_a_corrupt_file_of_a_run_is_one_line_naming_it(run4, tmp_path, name, argv):
    import shutil

    from dfmgan.cli import main

    run = tmp_path / "run"
    shutil.copytree(run4, run)
    (run / name).write_bytes(CORRUPT[name])
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([a.format(run=run, tmp=tmp_path) for a in argv])
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1 and name.split(".")[0] in lines[0], err.getvalue()
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "share").exists()


def test_a_report_skips_lines_of_metrics_jsonl_that_are_not_rows(run4, tmp_path):
    import shutil

    from dfmgan.tools.report import write_report

    run = tmp_path / "run"
    shutil.copytree(run4, run)
    (run / "metrics.jsonl").write_text("garbage\n[1, 2]\n")
    page = write_report(run).read_text()
    assert "No <code>dfmgan eval</code> results yet" in page


@given(step=st.integers(0, 10**12))
def test_a_checkpoint_name_has_one_home(step):
    """layout's name, pattern and glob agree for every step a state may hold."""
    import fnmatch

    from dfmgan.layout import STATE_GLOB, STATE_RE, RunLayout

    name = RunLayout(Path("run")).state(step).name
    assert int(STATE_RE.search(name).group(1)) == step and fnmatch.fnmatch(name, STATE_GLOB)
