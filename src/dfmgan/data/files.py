"""Small helpers shared by the loaders: finding expected files, safe reads."""
from __future__ import annotations

import gzip
from pathlib import Path

from ..errors import DataError


def find(root: Path, names: list[str], dataset: str, source: str) -> list[Path]:
    """Each of ``names`` under ``root`` (or ``root/<one subfolder>``), else one clear error."""
    for base in [root, *sorted(p for p in root.iterdir() if p.is_dir())] if root.is_dir() else []:
        if all((base / n).is_file() for n in names):
            return [base / n for n in names]
    raise DataError(f"{dataset}: expected {', '.join(names)} in {root} ({source})")


def read_maybe_gz(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"cannot read {path}: {e} (truncated or corrupt?)") from None
