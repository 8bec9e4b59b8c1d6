"""Where a study's runs execute (``dfmgan study --launcher``):

* ``local``: one ``dfmgan train`` process per run on this machine, ``jobs`` at a time;
* ``slurm``: one Slurm job per run, submitted through **submitit** (facebookincubator's
  maintained library; no hand-written sbatch scripts), with the spec's or the flags'
  partition, time, GPUs and CPUs per run;
* ``submitit``: the same code path through submitit's local executor (how the tests run
  it: no Slurm here).

Under submitit each job runs ``dfmgan train`` as a child process (``TrainJob``). A job that
is pre-empted or reaches its time limit gets submitit's signal; ``TrainJob.checkpoint``
then stops the training with SIGTERM (the run writes a checkpoint and exits) and asks
submitit to requeue the job, which continues the run with ``--resume``. Each submission is
recorded in ``OUT/logs/RUN.job.json``; a study killed on the submitting side and started
again adopts the jobs still alive instead of submitting them twice."""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..files import atomic_write
from ..reading import parse_json
from ..layout import RunLayout

LAUNCHERS = ("local", "submitit", "slurm")
# the spec's `launcher:` keys (and flags) -> submitit's generic executor parameters
PARAMS = {"partition": "slurm_partition", "time_min": "timeout_min", "gpus": "gpus_per_node",
          "cpus": "cpus_per_task"}


def train_argv(run, logs: Path) -> list[str]:
    """``dfmgan train`` for ``run``: a new one from its resolved config, or a resume of the
    run its folder holds (one killed before its first checkpoint restarts from step 0
    there: train's own rule, which rewrites only the run's own files)."""
    if RunLayout(run.folder).config_path.exists():
        return resume_argv(run.folder, run.cfg.steps)
    config = logs / f"{run.name}.json"
    atomic_write(config, run.cfg.to_json().encode())
    return [sys.executable, "-m", "dfmgan", "train", "--config", str(config), "--out",
            str(run.folder), "--no-progress", "--steps", str(run.cfg.steps)]


def resume_argv(folder, steps: int) -> list[str]:
    return [sys.executable, "-m", "dfmgan", "train", "--resume", str(folder), "--no-progress",
            "--steps", str(steps)]


def die_with_parent() -> None:
    """In the child: SIGTERM when its parent dies, even by SIGKILL (Linux), so a run never
    trains on unseen; SIGTERM makes it checkpoint and stop."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_training(argv: list[str], threads: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with log.open("a") as out:  # the child keeps its own copy
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=die_with_parent)


class LocalLauncher:
    name = "local"

    def __init__(self, threads: int, logs: Path):
        self.threads, self.logs = threads, logs

    def adopt(self, run):
        return None  # a local run dies with the study (die_with_parent): nothing to adopt

    def start(self, run) -> subprocess.Popen:
        return start_training(train_argv(run, self.logs), self.threads, self.logs / f"{run.name}.log")


@dataclass
class TrainJob:
    """What submitit runs: the run's ``dfmgan train``, as a child process; checkpointable."""

    argv: list[str]
    threads: int
    log: str
    folder: str
    steps: int
    process: subprocess.Popen | None = field(default=None, repr=False, compare=False)

    def __getstate__(self):
        return {**self.__dict__, "process": None}  # pickled by submitit: not the process

    def __call__(self) -> int:
        if RunLayout(self.folder).config_path.exists():  # a requeued job: continue the run
            self.argv = resume_argv(self.folder, self.steps)
        self.process = start_training(self.argv, self.threads, Path(self.log))
        code = self.process.wait()
        if code != 0:
            raise RuntimeError(f"dfmgan train exited with status {code} (see {self.log})")
        return code

    def checkpoint(self, *args, **kwargs):
        """Pre-empted or timed out: the run checkpoints and stops, then the job is requeued."""
        from submitit.helpers import DelayedSubmission

        # submitit calls this from its signal handler, which interrupts __call__ inside
        # Popen.wait: that holds the Popen's lock, so neither poll() nor wait() may be used
        # here; the child's exit is watched through /proc instead (it stays a zombie until
        # __call__ reaps it)
        if self.process is not None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if not exited(self.process.pid, timeout=600):
                os.kill(self.process.pid, signal.SIGKILL)
        return DelayedSubmission(TrainJob(self.argv, self.threads, self.log, self.folder, self.steps))


def exited(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` ends (is gone, or a zombie) within ``timeout`` seconds."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc_state(pid) in (None, "Z"):
            return True
        time.sleep(0.1)
    return False


class JobHandle:
    """A submitted job, polled as a process is: ``poll()`` is None while it lives, then 0
    when its run reached its last step and 1 otherwise."""

    def __init__(self, job, run, kind: str):
        self.job, self.run, self.kind, self.returncode = job, run, kind, None

    def alive(self) -> bool:
        if self.kind == "local":  # submitit's local job id is its controller's pid
            return pid_alive(int(self.job.job_id))
        return self.job.state in ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING",
                                  "SUSPENDED", "RESIZING", "UNKNOWN")

    def poll(self) -> int | None:
        if self.returncode is None and not self.alive():
            self.returncode = 0 if self.run.done_steps() >= self.run.cfg.steps else 1
        return self.returncode

    def send_signal(self, signum) -> None:
        self.job.cancel(check=False)


def pid_alive(pid: int) -> bool:
    """A process of ours with this pid is running, and it is submitit's controller."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"submitit" in cmd and proc_state(pid) not in (None, "Z")


def proc_state(pid: int) -> str | None:
    """A process's state letter from /proc ("R", "S", "Z" for a zombie...), None when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


class SubmititLauncher:
    """Runs as submitit jobs: ``cluster`` "local" (its local executor) or "slurm"."""

    def __init__(self, cluster: str, threads: int, logs: Path, params: dict):
        try:
            import submitit
        except ImportError:
            raise ConfigError("--launcher slurm/submitit needs submitit: "
                              ".venv/bin/pip install -e '.[cluster]'") from None
        self.submitit, self.cluster, self.threads, self.logs = submitit, cluster, threads, logs
        self.name = "slurm" if cluster == "slurm" else "submitit"
        try:  # no sbatch on this machine, a parameter Slurm refuses: one line, before any run
            self.executor = submitit.AutoExecutor(folder=logs / "submitit", cluster=cluster)
            self.executor.update_parameters(name="dfmgan", **{PARAMS[k]: v for k, v in params.items()})
        except Exception as e:  # submitit raises RuntimeError, ValueError, ... by cluster
            raise ConfigError(f"cannot submit to {cluster} through submitit: {e}") from None

    def record(self, run) -> Path:
        return self.logs / f"{run.name}.job.json"

    def adopt(self, run) -> JobHandle | None:
        """The job an earlier submission of this study started for ``run``, if it lives."""
        path = self.record(run)
        if not path.exists():
            return None
        rec = parse_json(path.read_text())
        if rec.get("cluster") != self.cluster:
            return None
        job_cls = self.submitit.LocalJob if self.cluster == "local" else self.submitit.SlurmJob
        handle = JobHandle(job_cls(self.logs / "submitit", str(rec["job_id"])), run,
                           "local" if self.cluster == "local" else "slurm")
        return handle if handle.alive() else None

    def start(self, run) -> JobHandle:
        log = self.logs / f"{run.name}.log"
        try:
            job = self.executor.submit(TrainJob(train_argv(run, self.logs), self.threads, str(log),
                                                str(run.folder), run.cfg.steps))
        except Exception as e:  # sbatch refused the job (a partition that does not exist, ...)
            raise ConfigError(f"submitit could not submit {run.name}: {e}") from None
        atomic_write(self.record(run), json.dumps({"cluster": self.cluster, "job_id": job.job_id}).encode())
        return JobHandle(job, run, "local" if self.cluster == "local" else "slurm")


def make_launcher(name: str, threads: int, logs: Path, params: dict | None = None):
    if name not in LAUNCHERS:
        raise ConfigError(f"unknown launcher {name!r}; choose from {', '.join(LAUNCHERS)}")
    if name == "local":
        return LocalLauncher(threads, logs)
    return SubmititLauncher("local" if name == "submitit" else "slurm", threads, logs, params or {})
