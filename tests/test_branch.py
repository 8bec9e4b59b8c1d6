"""``train --resume RUN --out NEW``: a new run continuing from RUN's last state. With no
setting changed it is the resume itself, bit for bit; a changed learning rate reaches the
optimisers; what the saved weights cannot follow (networks, objective, data) is refused
before anything is written; RUN is never touched."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from dfmgan.checkpoint import load_latest_state
from dfmgan.cli import main

TINY = ["--preset", "digits", "--set", "net.g_width=8", "--set", "net.d_width=8",
        "--batch-size", "16", "--checkpoint-every", "5", "--sample-every", "1000", "--no-progress"]


def digest(folder) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    run = tmp_path_factory.mktemp("src") / "a"
    assert main(["train", *TINY, "--steps", "10", "--out", str(run)]) == 0
    return run


def test_a_branch_with_nothing_changed_is_the_resume_bit_for_bit(source, tmp_path):
    before = digest(source)
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)
    assert main(["train", "--resume", str(copy), "--steps", "15", "--no-progress"]) == 0
    assert main(["train", "--resume", str(source), "--out", str(tmp_path / "b"), "--steps", "15",
                 "--no-progress"]) == 0
    for name in ("generator.safetensors", "discriminator.safetensors"):
        assert (copy / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    rows = [json.loads(ln) for ln in (tmp_path / "b" / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 16))  # the source's 10, then its own 5
    assert json.loads((tmp_path / "b" / "branch.json").read_text()) == {"from": str(source), "step": 10}
    assert digest(source) == before


def test_a_changed_learning_rate_reaches_the_optimisers(source, tmp_path):
    out = tmp_path / "b"
    assert main(["train", "--resume", str(source), "--out", str(out), "--steps", "15", "--lr", "1e-5",
                 "--set", "optim.beta1=0.9", "--no-progress"]) == 0
    state = load_latest_state(out)
    assert state["step"] == 15
    for opt in state["objective"]["optimizers"].values():
        assert all(g["lr"] == 1e-5 and tuple(g["betas"]) == (0.9, 0.999) for g in opt["param_groups"])
    assert json.loads((out / "config.json").read_text())["optim"]["lr"] == 1e-5


@pytest.mark.parametrize("change, why", [
    (["--set", "net.g_width=16"], "net.g_width"),
    (["--objective", "dfm"], "objective.name"),
    (["--data", "fashion-mnist"], "data.name"),
    (["--set", "net.latent=normal"], "net.latent")])
def test_what_the_weights_cannot_follow_is_refused_up_front(source, tmp_path, capsys, change, why):
    before = digest(source)
    out = tmp_path / "b"
    assert main(["train", "--resume", str(source), "--out", str(out), "--steps", "15",
                 "--no-progress", *change]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and why in err and "a branch keeps" in err
    assert not out.exists() and digest(source) == before


def test_a_branch_never_lands_on_a_run(source, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["train", *TINY, "--steps", "5", "--out", str(other)]) == 0
    before = digest(other)
    assert main(["train", "--resume", str(source), "--out", str(other), "--steps", "15",
                 "--no-progress"]) == 2
    assert "already holds a run" in capsys.readouterr().err and digest(other) == before


def test_a_run_without_a_checkpoint_cannot_be_branched(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train", "--resume", str(tmp_path / "empty"), "--out", str(tmp_path / "b")]) == 2
    assert "not a dfmgan run" in capsys.readouterr().err and not (tmp_path / "b").exists()


def test_the_refused_resume_names_the_branch(source, capsys):
    assert main(["train", "--resume", str(source), "--lr", "1e-4", "--steps", "15"]) == 2
    err = capsys.readouterr().err
    assert f"dfmgan train --resume {source} --out NEW_RUN" in err
