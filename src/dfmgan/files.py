"""File helpers every layer may use, without torch: atomic writes, the checkpoints of a
run folder, and a snapshot's header (its tensors' shapes) read from the safetensors
file itself. ``dfmgan info`` and ``--help`` stay fast because nothing here imports torch."""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
from pathlib import Path

from .errors import CheckpointError, ConfigError, DfmganError
from .layout import GENERATOR, STATE_GLOB, STATE_RE, RunLayout
from .models.netconfig import NetConfig
from .outputs import check_output, shown, special_kind

META_KEY = "dfmgan"  # the snapshot's JSON, inside its safetensors metadata


def _file_mode() -> int:
    """What ``open()`` would give a new file: 0o666 less the umask (mkstemp uses 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


MAX_DEPTH = 32  # the deepest nesting any file dfmgan reads back needs is 5


class TooDeep(ValueError):
    """A JSON or YAML document nested deeper than ``MAX_DEPTH``, or one that refers to
    itself (a recursive YAML anchor): refused like malformed JSON, never a RecursionError."""


def check_depth(obj, limit: int = MAX_DEPTH) -> None:
    """Walk ``obj`` without recursion; ``TooDeep`` past ``limit`` levels or on a cycle."""
    stack = [(obj, 0, frozenset())]
    while stack:
        node, depth, above = stack.pop()
        if not isinstance(node, (dict, list, tuple)):
            continue
        if id(node) in above:
            raise TooDeep("it refers to itself (a recursive anchor)")
        if depth >= limit:
            raise TooDeep(f"it is nested deeper than {limit} levels")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1, above | {id(node)}) for c in children)


def parse_json(text):
    """``json.loads`` with a depth limit: a document nested past ``MAX_DEPTH`` is a
    ``ValueError`` (``TooDeep``) like any malformed JSON, which every reader turns into one
    line naming the file."""
    try:
        obj = json.loads(text)
    except RecursionError:
        raise TooDeep(f"it is nested deeper than {MAX_DEPTH} levels") from None
    check_depth(obj)
    return obj


class WriteError(DfmganError):
    """A file could not be written (a full disk, no permission); the old one is intact."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, rename over ``path``, fsync the
    folder: a reader sees the old file or the new one, never a torn one. A failure (a
    full disk, say) leaves the old file as it was and no temp file behind."""
    path = Path(path)
    kind = special_kind(path)
    if kind:  # checked again at the rename: a path that became a link or a node meanwhile
        raise WriteError(f"refusing to write {shown(path)}: it is a {kind}, which dfmgan "
                         "never replaces")
    try:
        _atomic_write(path, data)
    except OSError as e:
        raise WriteError(f"cannot write {shown(path)}: {e.strerror or e}; the previous "
                         f"{path.name} (if any) is intact") from None


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def temp_files(run_dir: Path) -> list[Path]:
    """What a write killed halfway leaves: ``atomic_write``'s ``.NAME.XXXX.tmp`` files."""
    run = Path(run_dir)
    return [p for folder in (run, *(d for d in run.iterdir() if d.is_dir()))
            for p in folder.glob(".*.tmp") if p.is_file()] if run.is_dir() else []


def state_paths(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every saved state, oldest first."""
    folder = RunLayout(run_dir).checkpoints
    found = [(int(m.group(1)), p) for p in folder.glob(STATE_GLOB)
             if (m := STATE_RE.search(p.name))] if folder.is_dir() else []
    return sorted(found)


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


# a file's first bytes -> what it is, for a message naming the kind of a wrong file
MAGIC = ((b"PK\x03\x04", "a zip archive, as a torch .pt or a numpy .npz is; a run folder or "
          "a .safetensors snapshot is asked for here"),
         (b"\x80", "a Python pickle (an old-style torch .pt?), which dfmgan never loads"),
         (b"\x93NUMPY", "a numpy .npy array"), (b"\x89PNG", "a PNG image"),
         (b"\xff\xd8\xff", "a JPEG image"), (b"\x1f\x8b", "a gzip file"),
         (b"{", "JSON text"), (b"", "empty"))


def kind_of(path: Path) -> str | None:
    """What ``path`` looks like from its first bytes, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if not head:
        return "empty"
    return next((what for magic, what in MAGIC if magic and head.startswith(magic)), None)


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
    side = p.with_suffix(".json")
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


def writable_folder(path: str | os.PathLike, purpose: str | None = None) -> Path:
    """Checked before the work whose output goes there: the output policy allows it
    (``outputs``: no link, no device, no run's own folder unless ``purpose`` is "run"),
    and ``path`` is a folder or can be made one where a file can be created (tried, not
    guessed: ``os.access`` says yes to root on a read-only mount). Nothing is created."""
    p = check_output(path, purpose)
    can_write_in(p)
    return p


def can_write_in(p: Path) -> None:
    """``p`` is (or can become) a folder in which a file can be created, else one line."""
    for part in p.parts:
        if len(os.fsencode(part)) > 255:
            raise ConfigError(f"{shown(part[:20])}...: a name longer than 255 bytes")
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{shown(p)} is a file; give a folder")
    ancestor = p
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"cannot write to {shown(p)}: {shown(ancestor)} is a file")
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as e:
        raise ConfigError(f"cannot write to {shown(p)}: {e.strerror or e}") from None


def writable_file(path: str | os.PathLike, purpose: str | None = None) -> Path:
    """As ``writable_folder``, for a file: the output policy allows it (``purpose``: the
    run file the command exists to write, e.g. "metrics" for eval), it is no folder, and
    its folder is writable."""
    p = check_output(path, purpose)
    if p.is_dir():
        raise ConfigError(f"{shown(p)} is a folder; give a file name")
    can_write_in(p.parent)
    if len(os.fsencode(p.name)) > 255:
        raise ConfigError(f"{shown(p.name[:20])}...: a file name longer than 255 bytes")
    return p
