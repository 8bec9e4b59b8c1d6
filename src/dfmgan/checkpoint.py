"""The resumable training state, ``checkpoints/state-<step>.pt`` (cf. edm2's
CheckpointIO): every network, optimizer, RNG and the data position; written atomically,
the last K kept, read back with ``torch.load(weights_only=True)`` so a file can never run
code. The other kind of save, the shareable snapshot, is ``snapshot_file.py``'s.
"""
from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path

import torch

from .errors import CheckpointError
from .files import atomic_write
from .layout import RunLayout, state_paths
from .reading import parse_json

FORMAT = 1


# A state file is this line, the SHA-256 of the payload in hex and a newline, then the
# payload (torch.save's zip). The digest catches any flipped byte before torch reads it.
HEADER = b"dfmgan-state sha256="
_VERIFIED: dict[tuple[str, int, int], bool] = {}  # (path, size, mtime) -> checked good


def first_nonfinite(tree, where: str = "") -> str | None:
    """The dotted name of the first floating-point tensor in a nested state (dicts, lists,
    tuples) that holds a NaN or an inf, else None: every parameter, BatchNorm buffer and
    optimizer moment, not only the losses. One reduction per tensor (about 2 ms for a DFM
    state of 17M numbers on one CPU core)."""
    if isinstance(tree, torch.Tensor):
        return where if tree.is_floating_point() and not bool(torch.isfinite(tree).all()) else None
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) \
        if isinstance(tree, (list, tuple)) else ()
    for k, v in items:
        found = first_nonfinite(v, f"{where}.{k}" if where else str(k))
        if found:
            return found
    return None


def state_bytes(modules: dict, ema=None) -> int:
    """About how large a checkpoint of these trained networks is, before one exists: each
    parameter three times (itself and Adam's two moments), each buffer once, and an EMA copy
    of G's where one is kept. Within 1% of the files written (docs: results, run sizes)."""
    size = lambda t: t.numel() * t.element_size()
    total = 0
    for m in modules.values():
        total += sum(3 * size(p) for p in m.parameters()) + sum(size(b) for b in m.buffers())
    if ema is not None:
        total += sum(size(t) for t in ema.state_dict().values() if isinstance(t, torch.Tensor))
    return total


def write_state(path: Path, step: int, state: dict) -> Path:
    """One training state, atomically, in the format ``read_state`` accepts."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "step": step, **state}, buf)
    payload = buf.getvalue()
    atomic_write(path, HEADER + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    return path


def state_payload(path: Path) -> bytes:
    """The verified payload of a state file (one from before digests: the whole file)."""
    try:
        blob = Path(path).read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror}") from None
    if not blob.startswith(HEADER):
        if blob[:4] != b"PK\x03\x04":  # torch's zip, written before digests were
            raise CheckpointError(f"{path} is not a dfmgan checkpoint (empty or foreign)")
        return blob
    digest, _, payload = blob[len(HEADER):].partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        raise CheckpointError(f"{path} is corrupt: its checksum does not match")
    return payload


def version(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns


def is_state(path: Path) -> bool:
    """Whether ``path`` is a usable checkpoint (its digest and its contents checked; cached
    per version of the file). Only these count towards --keep, so pruning never deletes a
    good checkpoint to keep a bad one."""
    key = version(path)
    if key not in _VERIFIED:
        try:
            read_state(path)  # the digest, then the contents (state_problem)
            _VERIFIED[key] = True
        except CheckpointError:
            _VERIFIED[key] = False
    return _VERIFIED[key]


def save_state(run_dir: Path, step: int, state: dict, keep: int) -> Path:
    layout = RunLayout(run_dir)
    layout.checkpoints.mkdir(parents=True, exist_ok=True)
    path = write_state(layout.state(step), step, state)
    _VERIFIED[version(path)] = True  # just written and digested: no second read
    good = [p for _, p in state_paths(run_dir) if is_state(p)]
    for old in good[:-keep]:  # prune only after the new one is safe, and only good ones
        old.unlink(missing_ok=True)
    return path


def read_state(path: Path) -> dict:
    payload = state_payload(path)
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad file
        raise CheckpointError(f"cannot read checkpoint {path}: {str(e).splitlines()[0]}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a dfmgan training state (format {FORMAT})")
    problem = state_problem(state)
    if problem:
        raise CheckpointError(f"{path} is not a usable training state: {problem}")
    _VERIFIED[version(path)] = True  # read whole and checked: is_state need not read it again
    return state


MAX_STEP = 10 ** 12  # the largest ``steps`` a config may set
RNG_BYTES = torch.get_rng_state().numel()  # a CPU generator's state


def is_count(v, lo: int = 0, hi: int = MAX_STEP) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def state_problem(state: dict) -> str | None:
    """What is wrong with a loaded state's contents (a digest proves only that the file
    is as written, not that what was written is a state), else None: the keys and their
    types, the step's range, the RNG states' size, and every tensor finite."""
    if not is_count(state.get("step")):
        return f"its step {state.get('step')!r} is not a whole number in 0..{MAX_STEP:,}"
    try:
        if not isinstance(parse_json(state.get("config")), dict):
            raise ValueError("not a mapping")
    except (TypeError, ValueError) as e:
        return f"its config is not a JSON mapping ({e})"
    objective, sampler, rng = state.get("objective"), state.get("sampler"), state.get("rng")
    if not (isinstance(objective, dict) and isinstance(objective.get("modules"), dict)
            and isinstance(objective.get("optimizers"), dict)
            and all(isinstance(m, dict) and all(isinstance(t, torch.Tensor) for t in m.values())
                    for m in objective["modules"].values())):
        return "its networks are missing or not tensors"
    if not is_count(objective.get("t", 0)):
        return f"its objective step {objective.get('t')!r} is not a whole number"
    if not (isinstance(sampler, dict) and is_count(sampler.get("epoch"))
            and is_count(sampler.get("position"))):
        return f"its data position {sampler!r:.80} is not two whole numbers"
    for key in ("torch", "z"):
        g = rng.get(key) if isinstance(rng, dict) else None
        if not (isinstance(g, torch.Tensor) and g.dtype == torch.uint8 and g.numel() == RNG_BYTES):
            return f"its RNG state {key!r} is not {RNG_BYTES} bytes"
    ema = state.get("ema", {})
    if not isinstance(ema, dict):
        return "its EMA is not a set of tensors"
    bad = first_nonfinite({"objective": objective, "ema": ema})
    return f"{bad} holds NaN or inf" if bad else None


def load_latest_state(run_dir: Path) -> dict | None:
    """The newest readable state (None when the run has none yet); an unreadable newer
    one is reported in one line on stderr and skipped."""
    paths = state_paths(run_dir)
    for step, path in reversed(paths):
        try:
            return read_state(path)
        except CheckpointError as e:
            print(f"dfmgan: skipping {path.name}: {e}", file=sys.stderr)
    if paths:
        raise CheckpointError(f"no readable checkpoint in {run_dir}/checkpoints")
    return None


def load_module_state(module: torch.nn.Module, state: dict, where: str) -> None:
    """``state`` into ``module``, after checking that every tensor is finite: a snapshot
    with an inf BatchNorm buffer would otherwise sample black images without a word."""
    bad = first_nonfinite(state)
    if bad:
        raise CheckpointError(f"{where}: {bad} holds NaN or inf; this network diverged")
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise CheckpointError(f"{where} does not fit this network ({first})") from None
