"""``dfmgan study SPEC``: a grid of (setting × seed) training runs, then curves and tables.

The spec (YAML or JSON)::

    preset: stacked-fashion-mnist     # every run starts from this preset
    set: {steps: 2000, eval_every: 250}   # and these settings (dotted keys or nested)
    seeds: 3                          # or a list: [0, 1, 2]
    settings:                         # name -> its own settings, over the two above
      gan: {objective.name: gan}
      gan-sim: {objective.name: gan, objective.scheme: simultaneous}
      dfm-x1000: {objective.name: dfm, objective.dfm.lambda_scale: 1000}
    budgets: [500, 1000, 2000]        # steps the table reads (default: 1/4, 1/2 and all)
    jobs: 2                           # runs at a time (default 2)
    threads: 1                        # torch threads per run (default 1)
    device: cpu                       # optional, for every run

Each run is an ordinary run folder, ``OUT/<setting>-s<seed>``, trained by ``dfmgan train``
in its own process, so a study uses every code path a single run does. A rerun of a killed
study skips finished runs and resumes the others from their checkpoints; on the CPU,
where resume is bitwise, it ends with exactly the results of an uninterrupted one. The
results (``curves.json``, ``curves.png``, ``table.md``) come from the runs' ``stats.jsonl``
and ``grids.png`` from their newest sample grids (``tools/study_report.py``)."""
from __future__ import annotations

import json
import re
import signal
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase as fnmatch
from pathlib import Path

from ..files import atomic_write
from ..reading import parse_json
from ..layout import state_paths
from ..outputs import shown, special_kind
from ..config import TrainConfig, differences, merge, read_file
from ..errors import ConfigError
from ..layout import RunLayout, StudyLayout
from ..resolver import build_config, complete, layer_of

SPEC_KEYS = {"preset", "set", "seeds", "settings", "budgets", "jobs", "threads", "device",
             "launcher"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass
class Run:
    setting: str
    seed: int
    cfg: TrainConfig
    folder: Path
    process: object | None = field(default=None, repr=False)  # a Popen or a launcher's job

    @property
    def name(self) -> str:
        return self.folder.name

    def done_steps(self) -> int:
        """The newest checkpoint's step (0 when there is none)."""
        paths = state_paths(self.folder)
        return paths[-1][0] if paths else 0

    @property
    def marker(self) -> Path:
        """Written when the run ends at its last step: with ``config.json`` and
        ``stats.jsonl`` it is all a finished run needs to count, so a study's light files
        (no checkpoints) can be kept in git and a new machine skips what is done."""
        return RunLayout(self.folder).done

    def finished(self) -> bool:
        if self.marker.exists():
            return parse_json(self.marker.read_text()).get("steps") == self.cfg.steps
        return self.done_steps() >= self.cfg.steps

    def mark_done(self) -> None:
        if self.done_steps() >= self.cfg.steps:
            atomic_write(self.marker, json.dumps({"steps": self.cfg.steps}).encode())


@dataclass
class Study:
    runs: list[Run]
    budgets: list[int]
    jobs: int
    threads: int
    out: Path
    launcher: str = "local"  # launchers.LAUNCHERS
    launch: dict = field(default_factory=dict)  # partition, time_min, gpus, cpus (submitit)
    only: tuple[str, ...] = ()  # run-name globs this invocation trains (--only); () = all

    def trained(self) -> list[Run]:
        """The runs this invocation trains; the results still cover every run."""
        return [r for r in self.runs if not self.only or any(fnmatch(r.name, g) for g in self.only)]


def select(study: Study, only: str) -> None:
    """``--only gan-s1,dfm-*``: train the runs whose names match one of the globs; a glob
    that matches no run is refused before any work (a typo would silently train nothing)."""
    globs = tuple(g.strip() for g in only.split(",") if g.strip())
    names = [r.name for r in study.runs]
    if not globs:
        raise ConfigError("--only needs run names or globs, e.g. gan-s1,dfm-*")
    for g in globs:
        if not any(fnmatch(n, g) for n in names):
            raise ConfigError(f"--only {g!r} matches none of the study's runs "
                              f"({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})")
    study.only = globs


MAX_RUNS = 10_000  # settings x seeds: a study larger than this is a typo, not a plan
MAX_SEED = 2 ** 32 - 1


def whole(spec: dict, key: str, default: int, least: int = 1, most: int = 1_024) -> int:
    v = spec.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not least <= v <= most:
        raise ConfigError(f"study {key} must be a whole number in {least}..{most:,}, got {v!r}")
    return v


def seeds_of(spec: dict) -> list[int]:
    seeds = spec.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= MAX_RUNS:
            raise ConfigError(f"study seeds must be a count in 1..{MAX_RUNS:,}, got {seeds!r}")
        seeds = list(range(seeds))
    if not (isinstance(seeds, list) and 0 < len(seeds) <= MAX_RUNS and all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds)):
        raise ConfigError(f"study seeds must be a count or a list of seeds in 0..{MAX_SEED:,}, "
                          f"got {seeds!r:.80}")
    return seeds


def load_study(path: Path, out: Path, device: str | None = None) -> Study:
    """Read and check the whole spec, and resolve every run's config, before any work."""
    spec = read_file(path)
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise ConfigError(f"unknown study key(s): {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(SPEC_KEYS))}")
    settings = spec.get("settings")
    if not isinstance(settings, dict) or not settings:
        raise ConfigError("a study needs settings: a mapping of name -> settings")
    common = layer_of(spec.get("set"), "study set")
    if device or spec.get("device"):
        common = merge(common, {"device": device or spec["device"]})
    layers = {}
    for name, over in settings.items():
        if not NAME.match(str(name)):
            raise ConfigError(f"setting name {name!r} must be letters, digits, '.', '_', '+', '-'")
        layers[str(name)] = merge(common, layer_of(over, f"setting {name}"))
    seeds = seeds_of(spec)
    if len(seeds) * len(layers) > MAX_RUNS:
        raise ConfigError(f"study of {len(layers)} settings x {len(seeds)} seeds is over "
                          f"{MAX_RUNS:,} runs")
    runs = []  # seed-major: every setting's first seed finishes before any second seed
    for seed in seeds:
        for name, layer in layers.items():
            cfg = build_config(spec.get("preset"), overrides=merge(layer, {"seed": seed}))
            runs.append(Run(name, seed, cfg, StudyLayout(out).run(name, seed)))
    for run in runs:
        check_folder(run)
    steps = max(r.cfg.steps for r in runs)
    budgets = spec.get("budgets") or sorted({steps // 4, steps // 2, steps} - {0})
    if not (isinstance(budgets, list) and len(budgets) <= 100 and all(
            isinstance(b, int) and not isinstance(b, bool) and 0 < b <= steps for b in budgets)):
        raise ConfigError(f"study budgets must be a list of at most 100 steps in 1..{steps}, "
                          f"got {budgets!r:.80}")
    launcher, params = launcher_of(spec.get("launcher"))
    return Study(runs, sorted(budgets), whole(spec, "jobs", 2), whole(spec, "threads", 1), out,
                 launcher, params)


def launcher_of(value) -> tuple[str, dict]:
    """The spec's ``launcher``: a name, or a mapping with ``name`` and the job's resources
    (partition, time_min, gpus, cpus), each checked here, before anything is submitted."""
    from .launchers import LAUNCHERS, PARAMS

    if value is None:
        return "local", {}
    spec = {"name": value} if isinstance(value, str) else value
    if not isinstance(spec, dict) or spec.get("name", "local") not in LAUNCHERS:
        raise ConfigError(f"study launcher must be one of {', '.join(LAUNCHERS)}, or a mapping "
                          f"with name and {', '.join(PARAMS)}; got {value!r:.80}")
    params = {k: v for k, v in spec.items() if k != "name"}
    check_launch(params)
    return spec.get("name", "local"), params


def check_launch(params: dict) -> None:
    from .launchers import PARAMS

    for k, v in params.items():
        if k not in PARAMS:
            raise ConfigError(f"unknown launcher key {k!r}; known: {', '.join(PARAMS)}")
        ok = isinstance(v, str) and v.strip() if k == "partition" else \
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10 ** 6
        if not ok:
            raise ConfigError(f"launcher {k} must be {'a name' if k == 'partition' else 'a whole number'}, got {v!r:.40}")


def check_folder(run: Run) -> None:
    """A study adopts a folder already there only when it holds a run of this run's
    configuration (what may change on resume aside) or nothing at all: never a link, a
    file, another experiment, or files that are not a dfmgan run, which it would
    otherwise continue, overwrite or delete."""
    folder = run.folder
    kind = special_kind(folder)
    if kind or (folder.exists() and not folder.is_dir()):
        raise ConfigError(f"{shown(folder)} is a {kind or 'file'}, not a run folder of this "
                          "study: remove it or use another --out")
    saved = RunLayout(folder).config_path
    if not saved.exists():
        if folder.exists() and any(folder.iterdir()):
            raise ConfigError(f"{shown(folder)} holds files but no dfmgan run (no config.json); "
                              "a study adopts only a run of its own configuration: move them "
                              "or use another --out")
        return
    try:
        diff = differences(complete(base=parse_json(saved.read_text())),
                           run.cfg)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"{saved} is not valid JSON: {e}") from None
    if diff:
        raise ConfigError(f"{folder} holds a run of another configuration ({'; '.join(diff)}); "
                          "remove it or use another --out")


def progress_of(run: Run) -> int:
    """Steps this run has logged (the last line of its stats.jsonl), cheaply."""
    from ..training.stats import last_step

    try:
        step = last_step(RunLayout(run.folder).stats)
    except OSError:
        step = None
    return run.done_steps() if step is None else step


def what_is_left(study: Study, launcher) -> tuple[list[Run], list[Run]]:
    """(runs to start, runs already running as jobs of an earlier submission), each kind
    named on stdout with the runs skipped because they are done."""
    trained = study.trained()
    pending = [r for r in trained if not r.finished()]
    if done := [r.name for r in trained if r not in pending]:
        print(f"study: {len(done)} of {len(trained)} runs already done, skipped: "
              f"{', '.join(done)}", flush=True)
    if resumed := [f"{r.name} (step {r.done_steps():,})" for r in pending if r.done_steps()]:
        print(f"study: resuming {', '.join(resumed)} from their last checkpoints", flush=True)
    for run in study.runs:  # stopped by a signal right at its last step: done, not yet marked
        if not run.marker.exists():
            run.mark_done()
    running: list[Run] = []
    for run in list(pending):  # jobs an earlier submission left running: adopted, not resubmitted
        if (job := launcher.adopt(run)) is not None:
            run.process = job
            pending.remove(run)
            running.append(run)
    if running:
        print(f"study: adopting {', '.join(r.name for r in running)}, still running as "
              f"{launcher.name} jobs", flush=True)
    return pending, running


def run_study(study: Study, progress: bool = True, poll: float = 1.0) -> list[str]:
    """Train every unfinished run, ``jobs`` at a time; returns the runs that failed.
    SIGINT/SIGTERM are passed on to the running trainings, which checkpoint and stop."""
    from tqdm import tqdm

    from .launchers import make_launcher

    logs = StudyLayout(study.out).logs
    logs.mkdir(parents=True, exist_ok=True)
    launcher = make_launcher(study.launcher, study.threads, logs, study.launch)
    pending, running = what_is_left(study, launcher)
    failed: list[str] = []
    trained = study.trained()
    total = sum(r.cfg.steps for r in trained)

    def steps_done() -> int:
        return sum(r.cfg.steps if r.finished() and r.process is None else progress_of(r)
                   for r in trained)
    # initial: the steps done before this start, which the rate must not count as its own
    bar = tqdm(total=total, initial=steps_done(), desc="study", unit="step", disable=not progress,
               dynamic_ncols=True)
    stop = {"signum": None}

    def forward(signum, _frame):
        stop["signum"] = signum
        for r in running:
            r.process.send_signal(signal.SIGTERM)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while pending or running:
            while pending and len(running) < study.jobs and stop["signum"] is None:
                run = pending.pop(0)
                run.process = launcher.start(run)
                running.append(run)
            time.sleep(poll)
            for run in [r for r in running if r.process.poll() is not None]:
                running.remove(run)
                if run.process.returncode == 0:
                    run.mark_done()
                elif stop["signum"] is None:
                    failed.append(f"{run.name} (exit {run.process.returncode}; "
                                  f"see {logs / (run.name + '.log')})")
            if stop["signum"] is not None and not running:
                break
            bar.n = steps_done()
            bar.set_postfix(running=len(running), left=len(pending))
            bar.refresh()
    finally:
        bar.close()
        for s, h in old.items():
            signal.signal(s, h)
    if stop["signum"] is not None:
        raise KeyboardInterrupt(stop["signum"])
    return failed
