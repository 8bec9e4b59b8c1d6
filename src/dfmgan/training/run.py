"""``train``: one run from its settings to its last checkpoint. The settings are resolved
first (``resolver.py``), then the folder is checked, then the data are loaded by the
``Trainer`` (``loop.py``), and only then is anything written."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..checkpoint import load_latest_state
from ..devices import threads_set
from ..errors import ConfigError
from ..distributed import from_env
from ..files import hold, temp_files, writable_folder
from ..resolver import resolve
from .loop import Trainer
from .rundir import RunDir, check_branch
from .signals import StopFlag
from .stats import StatsSink, machine_code, seconds_so_far


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    steps: int
    stopped_by: int | None  # the signal that stopped the run early, if any


def train(cfg=None, out=None, resume: bool = False, progress: bool = True,
          banner: bool | None = None, branch_from=None, threads: int | None = None) -> TrainResult:
    """Train (or, with ``resume``, continue) the run in folder ``out``. ``cfg``: any
    spelling the resolver takes (a dict of flat names, sections or dotted keys; a
    ``TrainConfig``, whose given settings count), resolved here before any file is made:
    over the data set's preset for a new run, over the run's own config.json on
    ``resume`` (None: continue exactly), over ``branch_from``'s for a branch (a new run
    ``out`` continuing from that run's last state with any setting changed but the
    networks, the objective and the data). ``banner``: print the line naming device,
    precision, data and folder first (default: with the bar). ``threads``: CPU threads."""
    if out is None:
        raise ConfigError("train() needs a run folder: train(cfg, out)")
    with threads_set(threads):  # then as they were: a notebook's torch is left as found
        return run_training(cfg, out, resume, progress, banner, branch_from)


def run_training(cfg, out, resume: bool, progress: bool, banner, branch_from) -> TrainResult:
    """``train``'s work, with the CPU threads set."""
    source = branch_from if branch_from is not None else out if resume else None
    saved = RunDir(source).saved_config() if source is not None else None
    cfg = resolve(cfg, base=saved.to_dict() if saved is not None else None)
    if branch_from is not None:  # before the data load: the weights must fit
        check_branch(saved, cfg)
    run = RunDir(writable_folder(out, "run"))  # tried, not guessed: before any data is loaded
    held = writer_lock(run, resume or branch_from is not None)
    try:
        return locked_training(cfg, run, saved, resume, progress, banner, branch_from)
    finally:
        if held is not None:
            held.release()


def writer_lock(run: RunDir, existing: bool):
    """One writer per run: rank 0 of a resume holds RUN/.lock from before it touches the
    folder (its temp files, its config) to the end; a second writer gets one line naming
    the holder's PID. A new run's folder does not exist yet (a refusal must leave none): it
    is locked once made, in ``locked_training``."""
    if from_env().rank != 0 or not existing or not run.path.is_dir():
        return None
    return hold(run.lock, str(run.path))


def locked_training(cfg, run: RunDir, saved, resume: bool, progress: bool, banner,
                    branch_from) -> TrainResult:
    """The rest of ``run_training``, the run's folder held (or about to be)."""
    state, new_lock = None, None
    if branch_from is not None:
        state = run.branch_state(RunDir(branch_from))
    if resume:
        run.check_resume(cfg)
        run.check_layout()  # e.g. checkpoints/ a file: refused, never taken for "no state yet"
        for tmp in temp_files(run.path):  # left by a write that a kill cut short
            tmp.unlink(missing_ok=True)
        state = load_latest_state(run.path)  # None: killed before its first checkpoint
    trainer = Trainer(cfg, run, progress)  # loads the data: fails before anything is written
    main = trainer.world.main  # only rank 0 writes files
    if state is not None:
        trainer.restore(state, branch=branch_from is not None)
    if trainer.step > trainer.steps:  # a shorter budget would rewrite the record of what ran
        raise ConfigError(f"{run.path} has done {trainer.step:,} steps; --steps "
                          f"{trainer.steps:,} is fewer. Give --steps {trainer.step:,} or more "
                          "(its samples and snapshots are the state at that step)")
    if resume and main:
        run.write_config(cfg)
    elif main:
        run.create(cfg)
        new_lock = hold(run.lock, str(run.path))  # released when this process ends
        if branch_from is not None:  # its history up to the branch, then its own rows
            run.adopt_history(RunDir(branch_from), trainer.step)
    sink = StatsSink(run.stats, run.tensorboard, enabled=main)
    sink.truncate_after(trainer.step)
    trainer.train_seconds = seconds_so_far(run.stats, trainer.step) if main else 0.0
    trainer.machine = machine_code(trainer.device)
    if main and (progress if banner is None else banner):
        tqdm.write(trainer.banner())
    with StopFlag() as stop:
        try:
            trainer.run(stop, sink)
        finally:
            sink.close()
            if new_lock is not None:
                new_lock.release()
    return TrainResult(run.path, trainer.step, trainer.steps, stop.signum)
