"""A decoded set kept on disk, so the second run of a slow-to-decode set (thousands of
PNGs, a font's worth of emoji) starts in seconds.

An entry is one safetensors file, ``$DFMGAN_DATA/<name>/<name>-<key>.safetensors``
(default ``~/.cache/dfmgan``): uint8 images (N, C, H, W), int64 labels (N,), and in its
metadata the key it was built for (the SHA-256 of every source file, the decoding
options, this module's version), the item names and classes, and the SHA-256 of its data.
An entry is used only when its stored key equals the key asked for and its data match
the digest; anything else (stale, truncated, flipped, not safetensors at all) is rebuilt
and replaced, never trusted. Writes are atomic, so a killed build leaves no entry."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import CheckpointError
from ..snapshot_file import META_KEY, safetensors_header, verify_snapshot, with_digest
from ..reading import parse_json
from ..files import WriteError, atomic_write
from .download import cache_home

VERSION = 2  # bump when decoding changes what an entry would hold


def key_of(facts: dict) -> str:
    """The SHA-256 of ``facts`` (JSON with sorted keys) and this module's version."""
    text = json.dumps({"version": VERSION, **facts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def entry_path(name: str, key: str) -> Path:
    return cache_home() / name / f"{name}-{key[:16]}.safetensors"


def read_entry(path: Path, key: str) -> tuple[torch.Tensor, torch.Tensor, dict] | None:
    """(images, labels, info) of a valid entry for ``key``, else None (to be rebuilt)."""
    from safetensors.torch import load

    if not path.is_file():
        return None
    try:
        blob = verify_snapshot(path)
        tensors = load(blob)
        info = parse_json(safetensors_header(path)["__metadata__"][META_KEY])
        images, labels = tensors["images"], tensors["labels"]
    except (CheckpointError, KeyError, TypeError, ValueError, OSError, RuntimeError):
        return None
    if info.get("key") != key or images.dtype != torch.uint8 or images.dim() != 4 \
            or labels.shape != (len(images),) or len(info.get("names", [])) != len(images):
        return None
    return images, labels, info


def write_entry(path: Path, key: str, images: np.ndarray, labels: np.ndarray, info: dict) -> None:
    from safetensors.torch import save

    tensors = {"images": torch.from_numpy(np.ascontiguousarray(images)),
               "labels": torch.from_numpy(np.asarray(labels, dtype=np.int64))}
    meta = {**info, "key": key}
    blob = with_digest(save(tensors), lambda digest: save(tensors, metadata={
        META_KEY: json.dumps({**meta, "data_sha256": digest})}))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, blob)


def cached(name: str, facts: dict, build: Callable[[], tuple[np.ndarray, np.ndarray, dict]]
           ) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The entry for ``facts``, built by ``build() -> (images, labels, info)`` when there is
    no valid one. ``info`` must hold "names" (one per image) and may hold "classes"."""
    key = key_of(facts)
    path = entry_path(name, key)
    found = read_entry(path, key)
    if found is not None:
        return found
    if path.exists():
        print(f"dfmgan: {path} is stale or damaged; rebuilding it", file=sys.stderr)
    images, labels, info = build()
    try:
        write_entry(path, key, images, labels, info)
    except (OSError, WriteError) as e:  # an unwritable cache costs the next run time, not this one
        print(f"dfmgan: cannot cache {name} in {path.parent} ({getattr(e, 'strerror', None) or e}); "
              "the next run decodes it again", file=sys.stderr)
    return torch.from_numpy(images), torch.from_numpy(np.asarray(labels, dtype=np.int64)), info
