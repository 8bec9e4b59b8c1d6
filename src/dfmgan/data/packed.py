"""Packed data sets: any set decoded once at training resolution by ``dfmgan pack`` into
one uncompressed file, then read at memory speed (cf. stylegan's ``dataset_tool.py``).

The file, ``NAME.dfmpack``::

    b"DFMPACK1"  uint64 LE L  SHA-256 of the manifest (32 bytes)  manifest (L bytes of JSON)
                 zero padding to a multiple of 4,096
    images       (N, C, S, S) uint8, C-contiguous
    labels       (N,) int64 little-endian, when the manifest says the set has labels

The manifest holds N, C, S, the class names and each image's name, how the images were
decoded (source, root, split, fit, background, skip_bad), the digest of the source files
and ``data_sha256``, the SHA-256 of everything after the padding; the manifest's own
digest is checked on every open, the data's as below. A set that fits a
quarter of the memory available is read into memory; a larger one is memory-mapped.
Damage is caught by the full digest on the first open of each version of the file (its
size, mtime and inode), with the verdict cached under ``~/.cache/dfmgan/verified``, so
later opens cost only the header (BENCHMARKS: the results page on data feeding)."""
from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..models.netconfig import SIZES
from ..outputs import shown
from ..reading import parse_json
from .base import ArraySource, describe, fits_in_memory
from .registry import register_dataset

SUFFIX = ".dfmpack"  # = data.PACKED_SUFFIX

MAGIC = b"DFMPACK1"
HEAD = 8 + 8 + 32  # magic, the manifest's length, its SHA-256
ALIGN = 4096


def header_bytes(manifest: dict) -> bytes:
    """Magic, manifest length, manifest and padding: everything before the images."""
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    head = MAGIC + struct.pack("<Q", len(body)) + hashlib.sha256(body).digest() + body
    return head + b"\0" * (-len(head) % ALIGN)


def read_manifest(path: Path) -> tuple[dict, int]:
    """(manifest, offset of the images); one line for a file that is no packed set."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD)
            if len(head) < HEAD or head[:8] != MAGIC:
                raise DataError(f"{shown(path)} is not a packed data set (made by dfmgan pack)")
            (n,) = struct.unpack("<Q", head[8:16])
            if n > 64 * 2 ** 20:
                raise DataError(f"{shown(path)}: its manifest claims {n:,} bytes; the file is damaged")
            body = f.read(n)
            padding = f.read(-(HEAD + n) % ALIGN)
    except OSError as e:
        raise DataError(f"cannot read {shown(path)}: {e.strerror or e}") from None
    if hashlib.sha256(body).digest() != head[16:] or padding.strip(b"\0"):
        raise DataError(f"{shown(path)} is damaged: its manifest's SHA-256 differs from its "
                        "header's; pack it again")
    try:
        manifest = parse_json(body.decode())
    except (ValueError, UnicodeDecodeError):
        raise DataError(f"{shown(path)}: its manifest is not valid JSON; the file is damaged") from None
    check_manifest(manifest, path)
    return manifest, HEAD + n + (-(HEAD + n) % ALIGN)


def check_manifest(m, path: Path) -> None:
    ok = isinstance(m, dict) and all(isinstance(m.get(k), int) and not isinstance(m.get(k), bool)
                                     for k in ("n", "channels", "size"))
    if not ok or m["n"] < 1 or m["channels"] not in (1, 3) or m["size"] not in SIZES \
            or not isinstance(m.get("labels"), bool) or not isinstance(m.get("data_sha256"), str):
        raise DataError(f"{shown(path)}: its manifest is not a packed set's (n, channels, size, "
                        "labels, data_sha256); the file is damaged")


def data_bytes(m: dict) -> int:
    return m["n"] * m["channels"] * m["size"] ** 2 + (8 * m["n"] if m["labels"] else 0)


def digest(path: Path, offset: int, chunk: int = 1 << 24) -> str:
    """SHA-256 of the file from ``offset`` to its end."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(offset)
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verified_marker(path: Path) -> Path:
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}".encode())
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dfmgan" / "verified"
    return root / key.hexdigest()


def verify(path: Path, m: dict, offset: int) -> None:
    """The data section's digest against the manifest's, once per version of the file."""
    if path.stat().st_size != offset + data_bytes(m):
        raise DataError(f"{shown(path)} has {path.stat().st_size:,} bytes, its manifest says "
                        f"{offset + data_bytes(m):,}: truncated or damaged; pack it again")
    marker = verified_marker(path)
    if marker.is_file():
        return
    if digest(path, offset) != m["data_sha256"]:
        raise DataError(f"{shown(path)} is damaged: its data's SHA-256 differs from its "
                        "manifest's; pack it again")
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_bytes(b"")
    except OSError:
        pass  # no cache to write: the next open checks the digest again


def open_packed(path: Path, size: int | None, channels: int | None):
    """(images (N, C, S, S) uint8 tensor, labels or None, manifest, whether memory-mapped)."""
    m, offset = read_manifest(path)
    want = (size or m["size"], channels or m["channels"])
    if want != (m["size"], m["channels"]):
        raise DataError(f"{shown(path)} holds {m['size']} px, {m['channels']}-channel images; this "
                        f"needs {want[0]} px with {want[1]}: pack it again with --size {want[0]} "
                        f"--channels {want[1]}")
    verify(path, m, offset)
    shape = (m["n"], m["channels"], m["size"], m["size"])
    count = int(np.prod(shape))
    mapped = not fits_in_memory(data_bytes(m))
    if not mapped:
        with open(path, "rb") as f:
            f.seek(offset)
            images = np.fromfile(f, dtype=np.uint8, count=count).reshape(shape)
            labels = np.fromfile(f, dtype="<i8", count=m["n"]) if m["labels"] else None
    else:  # copy-on-write: pages are shared with the page cache and never written back
        images = np.memmap(path, np.uint8, "c", offset, shape)
        labels = np.array(np.memmap(path, "<i8", "c", offset + count, (m["n"],))) if m["labels"] else None
    labels = None if labels is None else torch.from_numpy(labels.astype(np.int64))
    return torch.from_numpy(images), labels, m, mapped


def check_packed(root, size: int, channels: int) -> None:
    """Before any work: the file is a packed set of this size and channel count."""
    if root is None:
        raise DataError("packed: give the file made by dfmgan pack (--data-root FILE)")
    m, _ = read_manifest(Path(root))
    if (m["size"], m["channels"]) != (size, channels):
        raise DataError(f"{shown(Path(root))} holds {m['size']} px, {m['channels']}-channel "
                        f"images; this run wants {size} px with {channels}: pack it again with "
                        f"--size {size} --channels {channels}, or train at its size")


def shape_of(root) -> tuple[int, int]:
    m, _ = read_manifest(Path(root))
    return m["size"], m["channels"]


@register_dataset("packed", splits=("train",), takes="size,channels", check=check_packed,
                  shape_of=shape_of,
                  expects=f"a {SUFFIX} file made by `dfmgan pack` (--data-root FILE)")
def load_packed(root: Path, split: str, size: int | None, channels: int | None) -> ArraySource:
    path = Path(root)
    if not path.is_file():
        raise DataError(f"packed: {shown(path)} is not a file made by dfmgan pack")
    images, labels, m, mapped = open_packed(path, size, channels)
    how = " (memory-mapped)" if mapped else ""
    return ArraySource(images, labels, describe(f"packed {shown(path)}{how}", len(images),
                                                images.shape[1:]), m.get("classes"),
                       names=m.get("names"), mapped=mapped)
