"""The SHA-256 of a file, read in 1 MiB blocks: the one helper behind the zoo's checksums,
the data cache's keys and import-dcgan's provenance. Only the standard library, so that
every layer may use it."""
from __future__ import annotations

import hashlib
import os


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
