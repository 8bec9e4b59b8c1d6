"""One sink for numbers (cf. stylegan3's training_stats): ``stats.jsonl`` in the run
folder, one JSON object per step, and TensorBoard scalars when it is installed.

Objectives return 0-d tensors; the sink keeps them until ``flush`` so a GPU run syncs
with the host once per ``log_every`` steps, not every step."""
from __future__ import annotations

import json
from pathlib import Path

from ..files import WriteError, atomic_write
from ..reading import parse_json


# stats.jsonl's wall clock: seconds spent training up to the row's step, the evaluations
# during training left out and kept across resumes (a study's time-to-quality reads it)
TRAIN_SECONDS = "time/train_s"
# beside it, the machine that clock ran on (``machine_code``): a study's time-to-quality
# table compares clocks of one machine only, and runs can be resumed on another
MACHINE = "time/machine"
# seconds each step waited for its batch (the prefetcher's wait; the whole gather without it)
DATA_WAIT = "time/data_wait"


def machine_code(device) -> int:
    """A 32-bit code (exact in a float) of what sets a training clock's pace: the CPU's
    model, its cores and torch's threads, or the GPU's name. Equal codes: one machine kind."""
    import os
    import platform
    import zlib

    import torch

    if getattr(device, "type", str(device)) == "cuda":
        what = torch.cuda.get_device_name(device)
    else:
        what = cpu_model() or platform.processor() or platform.machine()
    return zlib.crc32(f"{what}|{os.cpu_count()}|{torch.get_num_threads()}".encode())


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:  # not Linux
        return ""


class StatsSink:
    def __init__(self, path: Path, tensorboard_dir: Path | None = None, enabled: bool = True):
        self.path, self.enabled = Path(path), enabled
        self.pending: list[tuple[int, dict]] = []
        self.tb = None
        if enabled and tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(tensorboard_dir))
            except ImportError:  # tensorboard is an optional extra
                self.tb = None

    def report(self, step: int, values: dict) -> None:
        self.pending.append((step, values))

    def flush(self) -> dict[str, float]:
        """Write pending rows; returns the mean of each value over them (for the bar)."""
        rows = [(s, {k: float(v) for k, v in d.items()}) for s, d in self.pending]
        self.pending.clear()
        if self.enabled and rows:
            try:
                with self.path.open("a") as f:
                    f.writelines(json.dumps({"step": s, **d}) + "\n" for s, d in rows)
            except OSError as e:  # a torn last line is cut on resume (``truncate_after``)
                raise WriteError(f"cannot write {self.path}: {e.strerror or e}") from None
            if self.tb is not None:
                for s, d in rows:
                    for k, v in d.items():
                        if k != MACHINE:  # a code, not a quantity to plot
                            self.tb.add_scalar(k, v, s)
        keys = {k for _, d in rows for k in d}
        return {k: sum(d[k] for _, d in rows if k in d) / sum(k in d for _, d in rows) for k in keys}

    def image(self, tag: str, step: int, image) -> None:
        """An (H, W, C) uint8 image (a sample grid) to TensorBoard, when it is installed."""
        if self.tb is not None:
            self.tb.add_image(tag, image, step, dataformats="HWC")
            self.tb.flush()

    def truncate_after(self, step: int) -> None:
        """On resume, drop rows from after the checkpoint: those steps are run again."""
        if not (self.enabled and self.path.exists()):
            return
        keep, last = [], -1
        for ln in self.path.read_text(errors="replace").splitlines(True):
            s = _step(ln)
            if s is not None and last < s <= step:  # a row's steps only rise: others are debris
                keep.append(ln if ln.endswith("\n") else ln + "\n")
                last = s
        atomic_write(self.path, "".join(keep).encode())

    def close(self) -> None:
        self.flush()
        if self.tb is not None:
            self.tb.close()


def _step(line: str) -> int | None:
    """The row's step, or None for anything that is not a row with a whole step (a torn
    last line from a killed run, garbage, a step of 1e400 or "x")."""
    try:
        row = parse_json(line)
    except ValueError:
        return None
    return whole_step(row)


def whole_step(row) -> int | None:
    step = row.get("step") if isinstance(row, dict) else None
    ok = isinstance(step, int) and not isinstance(step, bool) and 0 <= step < 2 ** 63
    return step if ok else None


def a_number(v) -> bool:
    """A finite int or float (not a bool): what a statistic read back may be computed with."""
    import math

    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read_rows(path: Path) -> list[dict]:
    """The rows of a JSON-lines file (metrics.jsonl): each a mapping; anything else (a torn
    last line, garbage, a list, a number) is passed over."""
    out = []
    for ln in Path(path).read_text(errors="replace").splitlines():
        try:
            row = parse_json(ln)
        except ValueError:
            continue
        if isinstance(row, dict):
            out.append(row)
    return out


def last_step(path: Path, tail: int = 4096) -> int | None:
    """The step of the last whole row of a stats.jsonl, reading only its end (a study polls
    this for every run), a longer end while that holds no whole row; None when none has."""
    path = Path(path)
    size = path.stat().st_size
    while True:
        start = max(0, size - tail)
        with path.open("rb") as f:
            f.seek(start)
            lines = f.read().decode(errors="replace").splitlines()
        for line in reversed(lines[1:] if start else lines):  # one read from its middle: not one
            if (step := _step(line)) is not None:
                return step
        if not start:
            return None
        tail *= 4


def read_stats(path: Path) -> list[dict]:
    """The rows of a stats.jsonl: mappings with a whole step, in the order written."""
    return [r for r in read_rows(path) if whole_step(r) is not None]


def seconds_so_far(stats: Path, step: int) -> float:
    """The training seconds of the last row at or before ``step`` (0 for a new run)."""
    rows = [r for r in read_stats(stats) if r["step"] <= step and a_number(r.get(TRAIN_SECONDS))] \
        if Path(stats).exists() else []
    return float(rows[-1][TRAIN_SECONDS]) if rows else 0.0
