"""Two kinds of save (cf. edm2's CheckpointIO, stylegan3's training_options.json):

* the resumable training state, ``checkpoints/state-<step>.pt``: every network,
  optimizer, RNG and the data position; written atomically, the last K kept, read
  back with ``torch.load(weights_only=True)`` so a file can never run code;
* the shareable snapshots, ``generator.safetensors`` and ``discriminator.safetensors``
  (for the probe and feature views), each with the network's config as JSON beside it.
"""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import torch

from .errors import CheckpointError
from .files import META_KEY, atomic_write, read_snapshot_info, state_paths
from .layout import DISCRIMINATOR, GENERATOR, GENERATOR_EMA, RunLayout
from .models import NetConfig

FORMAT = 1
SNAPSHOT, D_SNAPSHOT, EMA_SNAPSHOT = GENERATOR, DISCRIMINATOR, GENERATOR_EMA


def write_state(path: Path, step: int, state: dict) -> Path:
    """One training state, atomically, in the format ``read_state`` accepts."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "step": step, **state}, buf)
    atomic_write(path, buf.getvalue())
    return path


def save_state(run_dir: Path, step: int, state: dict, keep: int) -> Path:
    layout = RunLayout(run_dir)
    layout.checkpoints.mkdir(parents=True, exist_ok=True)
    path = write_state(layout.state(step), step, state)
    for _, old in state_paths(run_dir)[:-keep]:  # prune only after the new one is safe
        old.unlink(missing_ok=True)
    return path


def read_state(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad file
        raise CheckpointError(f"cannot read checkpoint {path}: {str(e).splitlines()[0]}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a dfmgan training state (format {FORMAT})")
    return state


def load_latest_state(run_dir: Path) -> dict:
    """The newest readable state; an unreadable newer one is reported and skipped."""
    paths = state_paths(run_dir)
    if not paths:
        raise CheckpointError(f"{run_dir} holds no checkpoints/state-*.pt to resume from")
    for step, path in reversed(paths):
        try:
            return read_state(path)
        except CheckpointError as e:
            warnings.warn(f"{e}; falling back to an older checkpoint", stacklevel=2)
    raise CheckpointError(f"no readable checkpoint in {run_dir}/checkpoints")


def export_snapshot(folder: Path, net: torch.nn.Module, meta: dict | None = None,
                    name: str = SNAPSHOT) -> Path:
    """Write ``name`` (safetensors) + its .json (net config and ``meta``). The same JSON
    is stored in the safetensors metadata, so the one file suffices to load."""
    from safetensors.torch import save

    sd = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    path = Path(folder) / name
    info = json.dumps({"net": net.cfg.to_dict(), **(meta or {})}, indent=2)
    atomic_write(path, save(sd, metadata={META_KEY: info}))
    atomic_write(path.with_suffix(".json"), info.encode())
    return path


def read_snapshot(source, name: str = SNAPSHOT, config=NetConfig) -> tuple[object, dict, dict]:
    """(net config, weights, meta) of a snapshot; weights on the CPU. ``config`` is the
    dataclass its JSON's "net" fills (the GAN's NetConfig unless told)."""
    from safetensors.torch import load_file

    p, cfg, info = read_snapshot_info(source, name, config)
    try:
        weights = load_file(p)
    except Exception as e:
        raise CheckpointError(f"cannot read {p}: {str(e).splitlines()[0]}") from None
    return cfg, weights, info


def load_module_state(module: torch.nn.Module, state: dict, where: str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise CheckpointError(f"{where} does not fit this network ({first})") from None
