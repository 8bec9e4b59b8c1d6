"""``dfmgan info``: what a run folder or a snapshot holds, in plain words (``--json`` for
the whole record). Reads JSON files and the safetensors header only: no torch, no
tensor loaded, so it answers at once."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import DfmganError
from ..snapshot_file import parameter_count, read_snapshot_info
from ..layout import state_paths
from ..reading import parse_json
from ..layout import GENERATOR, GENERATOR_EMA, LATEST_GRID


def snapshot_info(path: Path) -> dict:
    p, cfg, meta = read_snapshot_info(path)
    return {"snapshot": str(p), "net": cfg.to_dict(), "parameters": parameter_count(p), **meta}


def run_info(path: Path) -> dict:
    from ..training.rundir import RunDir
    from ..training.stats import read_rows, read_stats

    run = RunDir(path)
    cfg = run.written_config()
    info = {"run": str(path), "preset": cfg.preset, "data": cfg.data.name,
            "objective": cfg.objective.name, "steps": cfg.steps,
            "checkpoints": [{"step": s, "file": p.name, "bytes": p.stat().st_size}
                            for s, p in state_paths(path)],
            "samples": sorted(p.name for p in run.samples.glob("*.png")) if run.samples.is_dir() else []}
    if run.stats.exists():
        rows = read_stats(run.stats)
        info["last_stats"] = rows[-1] if rows else None
    if run.best_record.exists():
        try:  # depth-limited; a damaged record is reported, not a traceback
            info["best"] = parse_json(run.best_record.read_text())
        except (OSError, ValueError, UnicodeDecodeError) as e:
            info["best"] = f"damaged ({' '.join(str(e).split())[:80]}): move it away to keep a new best"
    if run.metrics.exists() and (evals := read_rows(run.metrics)):
        last = evals[-1]
        info["last_eval"] = {k: v for k, v in {**last, **last.get("provenance", {})}.items()
                             if isinstance(v, (int, float, str)) and k != "seconds"}
    for key, name in (("generator", GENERATOR), ("generator_ema", GENERATOR_EMA)):
        if (path / name).exists():
            info[key] = snapshot_info(path / name)
    info["config"] = cfg.to_dict()
    return info


def number(v) -> str:
    """1234567 -> '1,234,567'; 0.000123456 -> '0.0001235'; True -> 'yes'."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    return "not set" if v is None else str(v)


def values(d: dict, skip=("step",)) -> str:
    return ", ".join(f"{k} {number(v)}" for k, v in d.items() if k not in skip)


def net_line(net: dict, params: int | None = None) -> str:
    d_norm = {"batch": "BatchNorm", "spectral": "spectral norm", "none": "no norm"}
    text = (f"{net['size']}×{net['size']} px, {net['channels']} channel(s), {net['nz']}-d "
            f"{net['latent']} z; G width {net['g_width']}, D width {net['d_width']} "
            f"({d_norm.get(net.get('d_norm', 'batch'), net.get('d_norm'))})")
    if net.get("n_classes"):
        text += f"; conditional on {net['n_classes']} classes"
    return text + (f"; {params:,} generator parameters" if params is not None else "")


def own_line(objective: dict) -> str:
    """The objective's own settings (objective.NAME.*), flat: '; dfm: lambda_scale 1000, ...'."""
    from ..config import flatten

    own = objective.get(objective["name"])
    return f"; {objective['name']}: {values(flatten(own))}" if isinstance(own, dict) and own else ""


def render_run(info: dict) -> str:
    cfg, obj = info["config"], info["config"]["objective"]
    last = info.get("last_stats") or {}
    lines = [f"run {info['run']}",
             f"  data: {info['data']}" + (f" (preset {info['preset']})" if info["preset"] else ""),
             f"  trained: step {number(last.get('step', 0))} of {number(info['steps'])}, "
             f"batch {cfg['batch_size']}, seed {cfg['seed']}",
             f"  objective: {obj['name']}, {obj['scheme']} updates, {obj['adversarial']} loss, "
             f"Adam lr {number(cfg['optim']['lr'])}" + own_line(obj),
             "  EMA of G: " + (f"half-life {number(cfg['ema'])} images" if cfg["ema"] else "off")]
    if "generator" in info:
        lines.append("  networks: " + net_line(info["generator"]["net"], info["generator"]["parameters"]))
    ck = info["checkpoints"]
    lines.append("  checkpoints: " + (f"steps {', '.join(number(c['step']) for c in ck)} "
                                      f"(newest {ck[-1]['bytes'] / 1e6:.1f} MB)" if ck else "none"))
    grids = [s for s in info["samples"] if s != LATEST_GRID]
    lines.append(f"  sample grids: {len(grids)}" + (f", newest {grids[-1]}" if grids else ""))
    if last:
        lines.append(f"  last logged (step {number(last['step'])}): {values(last)}")
    if "last_eval" in info:
        lines.append(f"  last `dfmgan eval`: {values(info['last_eval'])}")
    best = info.get("best")
    if isinstance(best, dict) and "step" in best:
        lines.append(f"  best checkpoint: step {number(best['step'])}, {values(best)}")
    elif best is not None:
        lines.append(f"  best checkpoint: record {best if isinstance(best, str) else 'not a best record'}")
    lines.append("  (everything, the full configuration included: dfmgan info RUN --json)")
    return "\n".join(lines)


def render_snapshot(info: dict) -> str:
    extra = {k: v for k, v in info.items() if k not in ("snapshot", "net", "parameters")}
    return "\n".join([f"snapshot {info['snapshot']}",
                      "  network: " + net_line(info["net"], info["parameters"]),
                      "  made by: " + (values(extra, skip=()) or "not recorded")])


def describe_path(path: Path, as_json: bool = False) -> str:
    if not path.exists():
        raise DfmganError(f"{path} does not exist")
    info = run_info(path) if path.is_dir() else snapshot_info(path)
    if as_json:
        return json.dumps(info, indent=2)
    return render_run(info) if path.is_dir() else render_snapshot(info)
