"""The model zoo: small networks trained by this project and shipped inside the package, so
that every tool can be tried before anything is trained::

    dfmgan zoo                                   # what it holds
    dfmgan sample zoo:fashion-mnist-dfm --out grid.png
    load_generator("zoo:digits-gan")

Each model is a folder ``zoo/NAME/`` laid out as a run's snapshot (config.json,
generator.safetensors + .json, discriminator.safetensors + .json) with its model card,
README.md. ``index.json`` holds what ``dfmgan zoo`` lists and every file's SHA-256, checked
each time a model is opened, so a damaged file is named rather than sampled from. The
folders are read-only to every command (``outputs.check_output`` refuses writes in them).
``benchmarks/build_zoo.py`` writes them from finished runs.

Only the standard library at import: ``outputs`` (below every writer) asks ``inside``."""
from __future__ import annotations

import difflib
import os
from pathlib import Path

from ..digests import file_sha256

PREFIX = "zoo:"
ROOT = Path(__file__).resolve().parent
INDEX = "index.json"


def entries(root: Path = ROOT) -> dict[str, dict]:
    """name -> its index entry: description, data, objective, size, steps, metrics, files;
    one line (restore it) for an index that is not what ``build_zoo.py`` writes."""
    from ..errors import CheckpointError
    from ..reading import parse_json

    path = Path(root) / INDEX
    if not path.is_file():
        return {}
    try:
        index = parse_json(path.read_text())
        problem = index_problem(index)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        problem = " ".join(str(e).split())[:100]
    if problem:
        raise CheckpointError(f"the zoo's {path} is damaged ({problem}); restore it with "
                              "git checkout, or reinstall dfmgan")
    return index


FIELDS = {"description": str, "data": str, "objective": str, "size": int, "channels": int,
          "steps": int, "metrics": dict, "files": dict}


def index_problem(index) -> str | None:
    """What is wrong with a loaded index.json, or None."""
    if not isinstance(index, dict):
        return "not a mapping of models"
    for name, entry in index.items():
        if not isinstance(entry, dict):
            return f"{name} is not an entry"
        for key, kind in FIELDS.items():
            if not isinstance(entry.get(key), kind) or isinstance(entry.get(key), bool):
                return f"{name}.{key} is missing or not a {kind.__name__}"
        digests = entry["files"]
        if not all(isinstance(k, str) and "/" not in k and isinstance(v, str) and len(v) == 64
                   for k, v in digests.items()):
            return f"{name}.files is not a mapping of file names to SHA-256 digests"
    return None


def is_zoo(source) -> bool:
    return isinstance(source, str) and source.startswith(PREFIX)


def resolve(source, root: Path = ROOT):
    """``zoo:NAME`` -> the model's folder, its files checked against their checksums; any
    other source comes back as it was."""
    if not is_zoo(source):
        return source
    from ..errors import CheckpointError, ConfigError

    name, known = source[len(PREFIX):], entries(root)
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean zoo:{close[0]}?" if close else ""
        raise ConfigError(f"the zoo has no model {name!r} (it has: {', '.join(sorted(known))})"
                          f"{hint}; `dfmgan zoo` lists them")
    folder = Path(root) / name
    for file, digest in known[name]["files"].items():
        path = folder / file
        if not path.is_file():
            raise CheckpointError(f"zoo:{name} is incomplete: {file} is missing from {folder}")
        if file_sha256(path) != digest:
            raise CheckpointError(f"zoo:{name} is damaged: {file} does not match its checksum "
                                  "in the zoo's index.json (restore it with git checkout)")
    return str(folder)


def inside(path, root: Path = ROOT) -> bool:
    """Whether ``path`` is in the zoo's folder (which no command may write)."""
    try:
        Path(os.path.abspath(path)).relative_to(root)
    except ValueError:
        return False
    return True


def listing(root: Path = ROOT) -> str:
    """The zoo as a table: one row a model, with the command that tries it."""
    rows = [("name", "data", "objective", "px", "steps", "score", "MB", "")]
    for name, e in sorted(entries(root).items()):
        mb = sum((Path(root) / name / f).stat().st_size for f in e["files"]) / 1e6
        first = next(iter(e.get("metrics", {}).items()), None)  # the card's headline score
        rows.append((name, e["data"], e["objective"], f"{e['size']}x{e['size']}x{e['channels']}",
                     f"{e['steps']:,}", "–" if first is None else f"{first[0]} {first[1]:.2f}",
                     f"{mb:.1f}", e.get("description", "")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows]
    lines += ["", "score: the model card's first (README.md in the model's folder), in the "
              "data's bundled feature space.", "Try one: dfmgan sample zoo:NAME --n 64 --out grid.png",
              f"Models are in {root}"]
    return "\n".join(line.rstrip() for line in lines)
