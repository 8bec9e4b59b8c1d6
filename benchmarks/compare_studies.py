"""Two or more studies side by side at the evaluation steps they share (issue 28: a
width-64 D against width 32): ``python benchmarks/compare_studies.py STUDY ...
[--steps 1000,2000,3000] [--metrics fid,probe_10,probe_100,probe_400] [--raw]``.

Reads each study's ``curves.json`` (what ``dfmgan study`` writes) and prints one markdown
table: a row per (study, setting), a column per (metric, step), mean ± std over the seeds
that reached that step. Probe accuracies print as percentages. The raw-G series ("(no EMA)")
are left out unless ``--raw``: a probe scores D, so they repeat their EMA row's probe. No training, no features:
the figures are the studies' own."""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def cell(per_seed: list[dict], step: int, percent: bool) -> str:
    """mean ± std over the seeds with a value at ``step`` ('–' when none has one)."""
    vals = [s[str(step)] for s in per_seed if str(step) in s]
    if not vals:
        return "–"
    scale = 100 if percent else 1
    std = statistics.stdev(vals) * scale if len(vals) > 1 else 0.0
    return f"{statistics.fmean(vals) * scale:.2f} ± {std:.2f}"


def rows(study: Path, metrics: list[str], steps: list[int], raw: bool) -> list[str]:
    """One table row per setting of ``study``."""
    series = json.loads((study / "curves.json").read_text())["series"]
    out = []
    for name, s in series.items():
        if name.endswith("(no EMA)") and not raw:
            continue
        curves = s["curves"]
        cells = [cell(curves[m]["per_seed"], t, m.startswith("probe")) if m in curves else "–"
                 for m in metrics for t in steps]
        out.append(f"| {study.name} / {name} ({len(s['seeds'])} seeds) | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("studies", nargs="+", type=Path)
    p.add_argument("--steps", default="1000,2000,3000")
    p.add_argument("--metrics", default="fid,probe_10,probe_100,probe_400")
    p.add_argument("--raw", action="store_true", help="also the raw-G (no EMA) series")
    a = p.parse_args()
    steps = [int(t) for t in a.steps.split(",")]
    metrics = a.metrics.split(",")
    print("| study / setting | " + " | ".join(f"{m} at {t:,}" for m in metrics for t in steps) + " |")
    print("|---|" + "---:|" * (len(metrics) * len(steps)))
    for study in a.studies:
        print("\n".join(rows(study, metrics, steps, a.raw)))


if __name__ == "__main__":
    main()
