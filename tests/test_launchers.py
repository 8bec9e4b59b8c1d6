"""``dfmgan study --launcher submitit``: the runs go through submitit (its local executor,
the code path a Slurm cluster uses) and give the local launcher's results bit for bit; a
job pre-empted mid-run checkpoints, is requeued and resumes; a study killed on the
submitting side and started again adopts its live jobs and submits only what is left."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dfmgan.cli import main

pytest.importorskip("submitit")
pytestmark = pytest.mark.slow  # each run is a process (several, under submitit)

TINY = {"net.g_width": 8, "net.d_width": 8, "batch_size": 16, "sample_every": 1000}


def spec(tmp_path: Path, steps: int, settings: dict, every: int = 4) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"preset": "digits", "seeds": 1, "settings": settings,
                                "set": {**TINY, "steps": steps, "checkpoint_every": every,
                                        "log_every": 2}}))
    return path


def test_submitit_gives_the_local_results_bit_for_bit(tmp_path):
    s = spec(tmp_path, 8, {"gan": {"objective.name": "gan"}, "dfm": {"objective.name": "dfm"}})
    for launcher in ("local", "submitit"):
        assert main(["study", str(s), "--out", str(tmp_path / launcher), "--launcher", launcher,
                     "--no-progress"]) == 0
    for run in ("gan-s0", "dfm-s0"):
        for f in ("generator.safetensors", "discriminator.safetensors", "stats.jsonl"):
            a, b = (tmp_path / x / run / f for x in ("local", "submitit"))
            if f == "stats.jsonl":  # the rows but their timings
                strip = lambda p: [{k: v for k, v in json.loads(ln).items() if "time" not in k and "sec" not in k}  # noqa: E731
                                   for ln in p.read_text().splitlines()]
                assert strip(a) == strip(b)
            else:
                assert a.read_bytes() == b.read_bytes(), (run, f)
    curves = [json.loads((tmp_path / x / "curves.json").read_text())["series"].keys() for x in ("local", "submitit")]
    assert curves[0] == curves[1]
    assert (tmp_path / "submitit" / "logs" / "gan-s0.job.json").is_file()


def start_study(s: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dfmgan", "study", str(s), "--out", str(out),
                             "--launcher", "submitit", "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until ``path`` exists; its name may be a glob (checkpoints are pruned to --keep, so
    one named checkpoint can come and go between two polls on a fast machine)."""
    end = time.monotonic() + timeout
    while not any(path.parent.glob(path.name)):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < end, f"no {path}"
        time.sleep(0.05)


def task_of(controller: int) -> int:
    """The job's task: the one child of submitit's local controller."""
    return int(Path(f"/proc/{controller}/task/{controller}/children").read_text().split()[0])


def test_a_preempted_job_checkpoints_is_requeued_and_resumes(tmp_path):
    # long enough (about 10 s of steps on a 2-core machine) to be pre-empted mid-run
    s = spec(tmp_path, 2000, {"gan": {"objective.name": "gan"}}, every=10)
    out = tmp_path / "st"
    proc = start_study(s, out)
    wait_for(out / "gan-s0" / "checkpoints" / "state-*.pt", proc)
    job = json.loads((out / "logs" / "gan-s0.job.json").read_text())
    os.kill(task_of(int(job["job_id"])), signal.SIGUSR2)  # what Slurm sends before the end
    text, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, text
    log = (out / "logs" / "gan-s0.log").read_text()
    assert "checkpoint written" in log and "(from step " in log and "done: 2000 steps" in log
    # the same run, uninterrupted, on the local launcher: resumed bit for bit
    assert main(["study", str(s), "--out", str(tmp_path / "ref"), "--no-progress"]) == 0
    assert (out / "gan-s0" / "generator.safetensors").read_bytes() == \
        (tmp_path / "ref" / "gan-s0" / "generator.safetensors").read_bytes()


def test_a_killed_study_adopts_its_live_jobs_and_submits_only_the_rest(tmp_path):
    # long enough (seconds, on an idle machine) that both jobs still live when the study restarts
    s = spec(tmp_path, 1200, {"a": {"objective.name": "gan"}, "b": {"objective.name": "gan",
                                                                   "optim.lr": 1e-4}}, every=10)
    out = tmp_path / "st"
    first = start_study(s, out)
    for run in ("a-s0", "b-s0"):
        wait_for(out / "logs" / f"{run}.job.json", first)
    ids = {r: json.loads((out / "logs" / f"{r}.job.json").read_text())["job_id"] for r in ("a-s0", "b-s0")}
    first.kill()  # the submitting side dies; its jobs go on
    first.wait()
    idle = subprocess.Popen(["sleep", "120"])  # wait_for's process to watch, now that first is gone
    wait_for(out / "a-s0" / "checkpoints" / "state-*.pt", idle)
    idle.kill()
    second = start_study(s, out)
    text, _ = second.communicate(timeout=300)
    assert second.returncode == 0, text
    assert "adopting" in text
    # no second submission: the job ids are the first ones, each run trained once through
    for r in ("a-s0", "b-s0"):
        assert json.loads((out / "logs" / f"{r}.job.json").read_text())["job_id"] == ids[r]
        assert (out / "logs" / f"{r}.log").read_text().count("dfmgan train on") == 1
    third = start_study(s, out)  # all done: nothing submitted at all
    text, _ = third.communicate(timeout=120)
    assert third.returncode == 0 and "2 of 2 runs already done" in text
