"""The one place that names the files of a run folder (cf. edm2's and stylegan3's run
directories). Everything that reads or writes a run asks this object for paths; it
imports nothing of the package, so every layer may use it.

    RUN/config.json                      the resolved config
    RUN/stats.jsonl                      one JSON object per step
    RUN/samples/NNNNNNNN.png, latest.png fixed-z grids over training
    RUN/checkpoints/state-NNNNNNNN.pt    resumable states (the last K)
    RUN/generator.safetensors + .json    the shareable generator (generator_ema.* beside an EMA)
    RUN/discriminator.safetensors + .json
    RUN/best/                            the best state, snapshot and best.json
    RUN/metrics.jsonl                    `dfmgan eval` rows
    RUN/report.html, RUN/probe.json      `dfmgan report`, `dfmgan probe`
    RUN/baselines.json                   `dfmgan baselines`
    RUN/tensorboard/                     scalars and grids, when TensorBoard is installed
    RUN/done.json                        a study's marker: the run reached its last step
    RUN/branch.json                      a branch's origin (train --resume RUN --out NEW)
    EXPORT/README.md                     an exported snapshot's model card
    STUDY/curves.json, table.md, curves.png, baselines.json, logs/, NAME-sSEED/
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GENERATOR = "generator.safetensors"
GENERATOR_EMA = "generator_ema.safetensors"
DISCRIMINATOR = "discriminator.safetensors"
# a checkpoint: checkpoints/state-<step, 8 digits or more>.pt; its name, pattern and glob
STATE = "state-{step:08d}.pt"
STATE_RE = re.compile(r"state-(\d{8,})\.pt$")
STATE_GLOB = "state-*.pt"
LATEST_GRID = "latest.png"  # samples/: the newest grid, beside one per step (00000250.png)
CONFIG = "config.json"
MODEL_CARD = "README.md"  # an exported snapshot folder's card (dfmgan export)


def sidecar(path):
    """The JSON beside a snapshot: generator.safetensors -> generator.json (a str for a
    name, a Path for a path)."""
    return path.with_suffix(".json") if isinstance(path, Path) else \
        str(Path(path).with_suffix(".json"))


# the names above, by role: what no command may write unless writing it is its purpose
OWN_FILES = {CONFIG: "config", "stats.jsonl": "stats", "metrics.jsonl": "metrics",
             "report.html": "report", "probe.json": "probe", "baselines.json": "baselines",
             "done.json": "done", "branch.json": "branch", ".lock": "lock",
             **{f"{stem}.{ext}": "snapshot" for stem in ("generator", "generator_ema", "discriminator")
                for ext in ("safetensors", "json")}}
OWN_FOLDERS = {"samples": "samples", "checkpoints": "checkpoints", "best": "best",
               "tensorboard": "tensorboard"}


@dataclass(frozen=True)
class RunLayout:
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    config_path = property(lambda self: self.path / CONFIG)
    stats = property(lambda self: self.path / "stats.jsonl")
    samples = property(lambda self: self.path / "samples")
    checkpoints = property(lambda self: self.path / "checkpoints")
    best = property(lambda self: self.path / "best")
    best_record = property(lambda self: self.path / "best" / "best.json")
    best_state = property(lambda self: self.path / "best" / "state.pt")
    generator = property(lambda self: self.path / GENERATOR)
    discriminator = property(lambda self: self.path / DISCRIMINATOR)
    model_card = property(lambda self: self.path / MODEL_CARD)
    metrics = property(lambda self: self.path / "metrics.jsonl")
    report = property(lambda self: self.path / "report.html")
    probe = property(lambda self: self.path / "probe.json")
    baselines = property(lambda self: self.path / "baselines.json")
    tensorboard = property(lambda self: self.path / "tensorboard")
    done = property(lambda self: self.path / "done.json")
    branch = property(lambda self: self.path / "branch.json")
    lock = property(lambda self: self.path / ".lock")  # held by the one process writing the run

    def role(self, path) -> str | None:
        """Which of this run's own files (or folders) ``path`` is: "config", "stats",
        "snapshot", "checkpoints", "metrics", ... or None for a path the run does not own."""
        try:
            rel = Path(path).relative_to(self.path)
        except ValueError:
            return None
        if not rel.parts:
            return "run"
        if rel.parts[0] in OWN_FOLDERS:
            return OWN_FOLDERS[rel.parts[0]]
        return OWN_FILES.get(rel.name) if len(rel.parts) == 1 else None

    def holds_a_run(self) -> bool:
        """A run folder (its config) or a snapshot folder (its generator), not a set of images."""
        return self.config_path.exists() or self.generator.exists()

    def grid(self, step: int | None = None) -> Path:
        """The sample grid of ``step``, or the newest one."""
        return self.samples / (LATEST_GRID if step is None else f"{step:08d}.png")

    def state(self, step: int) -> Path:
        return self.checkpoints / STATE.format(step=step)


@dataclass(frozen=True)
class StudyLayout:
    """The files of a study folder (``dfmgan study``): its runs, logs and results."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    curves = property(lambda self: self.path / "curves.json")
    table = property(lambda self: self.path / "table.md")
    plot = property(lambda self: self.path / "curves.png")
    grids = property(lambda self: self.path / "grids.png")
    baselines = property(lambda self: self.path / "baselines.json")
    logs = property(lambda self: self.path / "logs")

    def run(self, name: str, seed: int) -> Path:
        return self.path / f"{name}-s{seed}"


def state_paths(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every saved state, oldest first."""
    folder = RunLayout(run_dir).checkpoints
    found = [(int(m.group(1)), p) for p in folder.glob(STATE_GLOB)
             if (m := STATE_RE.search(p.name))] if folder.is_dir() else []
    return sorted(found)

