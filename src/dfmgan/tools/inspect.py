"""``dfmgan info``: what a run folder or a snapshot holds."""
from __future__ import annotations

import json
from pathlib import Path

from ..checkpoint import SNAPSHOT, read_snapshot, state_paths
from ..layout import RunLayout
from ..errors import DfmganError


def snapshot_info(path: Path) -> dict:
    cfg, weights, meta = read_snapshot(path)
    params = sum(v.numel() for k, v in weights.items() if "running" not in k and "num_batches" not in k)
    return {"snapshot": str(path), "net": cfg.to_dict(), "parameters": params, **meta}


def run_info(path: Path) -> dict:
    from ..training.rundir import RunDir
    from ..training.stats import read_stats

    run = RunDir(path)
    cfg = run.saved_config()
    states = state_paths(path)
    info = {"run": str(path), "preset": cfg.preset, "data": cfg.data.name,
            "objective": cfg.objective.name, "steps": cfg.steps,
            "checkpoints": [{"step": s, "file": p.name, "bytes": p.stat().st_size} for s, p in states],
            "samples": sorted(p.name for p in run.samples.glob("*.png")) if run.samples.is_dir() else []}
    if run.stats.exists():
        rows = read_stats(run.stats)
        info["last_stats"] = rows[-1] if rows else None
    layout = RunLayout(path)
    if layout.best_record.exists():
        info["best"] = json.loads(layout.best_record.read_text())
    if layout.metrics.exists():
        evals = read_stats(layout.metrics)
        if evals:
            info["last_eval"] = {k: v for k, v in evals[-1].items()
                                 if isinstance(v, (int, float, str)) and k != "seconds"}
    if (path / SNAPSHOT).exists():
        info["generator"] = snapshot_info(path / SNAPSHOT)
    info["config"] = cfg.to_dict()
    return info


def render(info: dict, indent: int = 0) -> str:
    pad = "  " * indent
    lines = []
    for k, v in info.items():
        if isinstance(v, dict):
            lines.append(f"{pad}{k}:")
            lines.append(render(v, indent + 1))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append(f"{pad}{k}: " + ", ".join(f"{d.get('file', d)}" for d in v))
        else:
            lines.append(f"{pad}{k}: {v}")
    return "\n".join(lines)


def describe_path(path: Path, as_json: bool = False) -> str:
    if not path.exists():
        raise DfmganError(f"{path} does not exist")
    info = run_info(path) if path.is_dir() else snapshot_info(path)
    return json.dumps(info, indent=2) if as_json else render(info)
