"""The data a run trained on, as its ``config.json`` records it: what ``eval``, ``probe``,
``baselines`` and ``visualize`` read when given a run, so that a folder run's root, fit,
background and ``skip_bad`` need not be typed again. A flag given wins over the record;
another data set than the run's takes none of the run's file settings."""
from __future__ import annotations

from pathlib import Path

from .images import ImageOptions


def run_folder(source) -> Path | None:
    """The run folder of a run, a snapshot file in one, or a zoo model; None otherwise."""
    from .. import zoo

    try:
        p = Path(zoo.resolve(source))
    except Exception:  # a bad zoo name is the loader's to refuse, in its own words
        return None
    return p if p.is_dir() else p.parent if p.suffix == ".safetensors" else None


def saved_data(source) -> dict:
    """The ``data`` section of the run's config.json, or {} (no run, or no readable record)."""
    from ..layout import RunLayout
    from ..reading import parse_json

    folder = run_folder(source)
    if folder is None:
        return {}
    try:
        saved = parse_json(RunLayout(folder).config_path.read_text())["data"]
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return {}
    return saved if isinstance(saved, dict) else {}


def recorded_data(source, data: str | None = None, root=None, skip_bad: bool | None = None,
                  meta: dict | None = None) -> tuple[str | None, object, ImageOptions]:
    """(data name, root, image options) for judging or probing ``source``: each given value,
    else the run's record where the data set is the run's, else the defaults. ``meta`` (a
    snapshot's metadata: ``data``, ``image``) stands in where no config.json does."""
    meta = meta or {}
    saved = saved_data(source) or {"name": meta.get("data"), **(meta.get("image") or {})}
    name = data or saved.get("name")
    if name is not None and name == saved.get("name"):
        image = ImageOptions(saved.get("fit") or "", saved.get("background") or "white",
                             bool(saved.get("skip_bad")) if skip_bad is None else skip_bad)
        return name, root if root is not None else saved.get("root"), image
    return name, root, ImageOptions(skip_bad=bool(skip_bad))
