"""The shareable snapshot, one module for its whole life: written (``export_snapshot``),
found (``snapshot_path``), its header and metadata read without a tensor
(``safetensors_header``, ``read_snapshot_info``, ``parameter_count``), verified by the
digest of its data section (``verify_snapshot``) and read (``read_snapshot``).

``generator.safetensors`` and ``discriminator.safetensors`` (and ``generator_ema``) hold
the weights, with the network's config and the run's metadata as JSON both in the file's
safetensors metadata and beside it. Nothing here imports torch at module level: ``dfmgan
info`` and ``--help`` read headers without it."""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from pathlib import Path

from .errors import CheckpointError, ConfigError
from .files import atomic_write
from .layout import DISCRIMINATOR, GENERATOR, GENERATOR_EMA, sidecar
from .models.netconfig import NetConfig
from .outputs import shown
from .reading import kind_of, parse_json

SNAPSHOT, D_SNAPSHOT, EMA_SNAPSHOT = GENERATOR, DISCRIMINATOR, GENERATOR_EMA

META_KEY = "dfmgan"  # the snapshot's JSON, inside its safetensors metadata


def snapshot_path(source: str | os.PathLike, name: str = GENERATOR) -> Path:
    """A run folder, a snapshot file or its JSON -> the .safetensors file."""
    p = Path(source)
    if p.is_dir():
        p = p / name
    if p.suffix == ".json":
        p = p.with_suffix(".safetensors")
    if not p.is_file():
        what = name.split(".")[0]
        raise CheckpointError(f"no {what} snapshot at {p} (a run folder holds {name})")
    return p


def safetensors_header(path: Path) -> dict:
    """The JSON header of a safetensors file: {name: {"dtype", "shape", "data_offsets"},
    "__metadata__": {...}}. The format is an 8-byte little-endian length, then the JSON
    (huggingface/safetensors, "Format"); read here so that no tensor is loaded."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > os.path.getsize(path) - 8:
                raise ValueError("header longer than the file")
            header = parse_json(f.read(n))
    except (OSError, ValueError, struct.error) as e:
        kind = kind_of(path)
        why = f"it is {kind}" if kind else str(e)
        raise CheckpointError(f"cannot read {path}: not a safetensors file ({why})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"cannot read {path}: not a safetensors file (no header mapping)")
    return header


DIGEST_KEY = "data_sha256"  # inside the snapshot's metadata JSON: its data section's SHA-256


def with_digest(blob: bytes, save) -> bytes:
    """A safetensors file whose metadata JSON also holds the SHA-256 of its data section.
    ``save(digest) -> bytes``; the data section does not depend on the metadata (offsets
    count from its start), so one digest serves both serialisations. One metadata key
    only: safetensors writes several in no fixed order, and snapshots stay bitwise equal."""
    digest = hashlib.sha256(_data_section(blob)).hexdigest()
    out = save(digest)
    assert _data_section(out) == _data_section(blob)
    return out


def _data_section(blob: bytes) -> bytes:
    (n,) = struct.unpack("<Q", blob[:8])
    return blob[8 + n:]


def verify_snapshot(path: Path) -> bytes:
    """The snapshot's bytes, read once, after checking them: a flipped byte anywhere is a
    clear error, not a silently different network (the header must parse and the data must
    match its stored digest; files written before digests were stored are read as they are)."""
    meta = safetensors_header(path).get("__metadata__") or {}
    try:
        digest = parse_json(meta[META_KEY]).get(DIGEST_KEY) if META_KEY in meta else None
    except (ValueError, AttributeError):
        raise CheckpointError(f"{path} is corrupt: its metadata is not JSON") from None
    blob = Path(path).read_bytes()
    if digest is not None and hashlib.sha256(_data_section(blob)).hexdigest() != digest:
        raise CheckpointError(f"{path} is corrupt: its data do not match the checksum stored in it")
    return blob


def parameter_count(path: Path) -> int:
    """Trainable numbers in a snapshot: every tensor but BatchNorm's running buffers."""
    total = 0
    try:
        for k, v in safetensors_header(path).items():
            if k != "__metadata__" and "running" not in k and "num_batches" not in k:
                total += math.prod(int(d) for d in v["shape"])
    except (TypeError, KeyError, ValueError):
        raise CheckpointError(f"cannot read {path}: its header does not list tensor shapes") from None
    return total


def read_snapshot_info(source, name: str = GENERATOR, config=NetConfig) -> tuple[Path, object, dict]:
    """(file, net config, the rest of its JSON) of a snapshot, without loading a tensor.
    The JSON beside the file wins; a lone .safetensors file carries it in its metadata."""
    p = snapshot_path(source, name)
    side = sidecar(p)
    try:
        if side.exists():
            info = parse_json(side.read_text())
        else:
            meta = safetensors_header(p).get("__metadata__") or {}
            if META_KEY not in meta:
                raise ValueError(f"no {side.name} beside it and no config in its metadata")
            info = parse_json(meta[META_KEY])
            info.pop(DIGEST_KEY, None)
        if not isinstance(info, dict) or not isinstance(info.get("net"), dict):
            raise ValueError("it holds no network config")
        check_meta(info)
        return p, config(**info.pop("net")), info
    except (OSError, ValueError, TypeError, KeyError, AttributeError, ConfigError) as e:
        raise CheckpointError(f"cannot read the config of {shown(p)}: {e}") from None


def check_meta(info: dict) -> None:
    """The values a snapshot's JSON carries besides its network, in range: a whole step,
    a finite EMA half-life, names as strings."""
    step, ema = info.get("step", 0), info.get("ema", 0.0)
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= 10 ** 12:
        raise ValueError(f"its step {step!r} is not a whole number in 0..10^12")
    if isinstance(ema, bool) or not isinstance(ema, (int, float)) or not 0 <= ema <= 1e12:
        raise ValueError(f"its EMA half-life {ema!r} is not a number in 0..1e12")
    for key in ("data", "objective", "preset"):
        if info.get(key) is not None and not isinstance(info[key], str):
            raise ValueError(f"its {key} {info[key]!r} is not a name")



def export_snapshot(folder: Path, net, meta: dict | None = None,
                    name: str = SNAPSHOT) -> Path:
    """Write ``name`` (safetensors) + its .json (net config and ``meta``). The same JSON
    is stored in the safetensors metadata, so the one file suffices to load."""
    from safetensors.torch import save

    sd = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    path = Path(folder) / name
    info = {"net": net.cfg.to_dict(), **(meta or {})}
    blob = with_digest(save(sd), lambda digest: save(sd, metadata={
        META_KEY: json.dumps({**info, DIGEST_KEY: digest}, indent=2)}))
    atomic_write(path, blob)
    atomic_write(sidecar(path), json.dumps(info, indent=2).encode())
    return path


def read_snapshot(source, name: str = SNAPSHOT, config=NetConfig) -> tuple[object, dict, dict]:
    """(net config, weights, meta) of a snapshot; weights on the CPU. ``config`` is the
    dataclass its JSON's "net" fills (the GAN's NetConfig unless told)."""
    from safetensors.torch import load

    p, cfg, info = read_snapshot_info(source, name, config)
    blob = verify_snapshot(p)  # the file read once: checked, then parsed from memory
    try:
        weights = load(blob)
    except Exception as e:
        raise CheckpointError(f"cannot read {p}: {str(e).splitlines()[0]}") from None
    return cfg, weights, info
