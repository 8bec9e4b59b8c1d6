"""A study's results from its runs' ``stats.jsonl``: the curves as JSON, a PNG of every
metric against images seen (a line per setting, a band for ± std over seeds), and a
Markdown table at the study's budgets, and each setting's newest sample grid side by side.

A run with an EMA logs the EMA's scores as ``eval/KEY`` and the raw G's as
``eval_raw/KEY``; the raw ones become a second series, "SETTING (no EMA)". The table also
gives DFM's gradient ratio (``dfm/grad_ratio``: the DFM term's gradient norm at G(z) over
the adversarial term's), averaged over the last fifth of each run's logged steps."""
from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

from ..files import atomic_write
from ..layout import RunLayout, StudyLayout
from ..training.stats import MACHINE, TRAIN_SECONDS, read_stats

RAW = " (no EMA)"  # suffix of the raw G's series beside an EMA
PREFIXES = {"eval/": "", "eval_raw/": RAW}
PLOT_COLUMNS = 4  # panels per row of curves.png


def run_curves(rows: list[dict]) -> dict[str, dict[str, dict[int, float]]]:
    """stats rows -> {series suffix: {metric: {step: value}}}."""
    out: dict = {}
    for row in rows:
        for key, value in row.items():
            for prefix, suffix in PREFIXES.items():
                if key.startswith(prefix) and not key.startswith(prefix + "best_"):
                    out.setdefault(suffix, {}).setdefault(key[len(prefix):], {})[row["step"]] = value
    return out


def grad_ratio(rows: list[dict]) -> float | None:
    values = [r["dfm/grad_ratio"] for r in rows if "dfm/grad_ratio" in r]
    tail = values[-max(1, len(values) // 5):]
    return statistics.mean(tail) if values else None


def machine_of(rows: list[dict]) -> int | str | None:
    """The machine code of a run's clock: one code, "mixed" when it was resumed on another
    kind of machine, None for a run from before codes were logged."""
    codes = {int(r[MACHINE]) for r in rows if MACHINE in r}
    return codes.pop() if len(codes) == 1 else "mixed" if codes else None


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def collect(study) -> dict:
    """{series: {"batch": B, "seeds": [...], "grad_ratio": [...], "curves": {metric:
    {"step": [...], "mean": [...], "std": [...], "per_seed": [[...], ...]}}}}"""
    series: dict = {}
    for run in study.runs:
        stats = RunLayout(run.folder).stats
        rows = read_stats(stats) if stats.exists() else []
        for suffix, metrics in run_curves(rows).items():
            s = series.setdefault(run.setting + suffix, {"batch": run.cfg.batch_size, "seeds": [],
                                                         "grad_ratio": [], "runs": {}})
            s["seeds"].append(run.seed)
            s["runs"][run.seed] = metrics
            s.setdefault("clock", {})[str(run.seed)] = {r["step"]: r[TRAIN_SECONDS] for r in rows
                                                        if TRAIN_SECONDS in r}
            s.setdefault("machine", {})[str(run.seed)] = machine_of(rows)
            if (ratio := grad_ratio(rows)) is not None:
                s["grad_ratio"].append(ratio)
    for s in series.values():
        runs = s.pop("runs")
        names = sorted({m for r in runs.values() for m in r})
        s["curves"] = {m: aligned([runs[k].get(m, {}) for k in sorted(runs)]) for m in names}
    return series


def aligned(per_seed: list[dict[int, float]]) -> dict:
    """Every step any seed reached, with the mean and std over the seeds that reached it
    (``n`` of them: a study still running has seeds at different points)."""
    steps = sorted(set().union(*(set(d) for d in per_seed)))
    stats = [mean_std([d[s] for d in per_seed if s in d]) for s in steps]
    return {"step": steps, "mean": [m for m, _ in stats], "std": [sd for _, sd in stats],
            "n": [sum(s in d for d in per_seed) for s in steps],
            "per_seed": [{str(s): d[s] for s in sorted(d)} for d in per_seed]}


def at_budget(curve: dict, budget: int) -> tuple[float, float, int, int] | None:
    """(mean, std, n, step) at the last evaluation at or before ``budget`` steps; None until
    some seed's curve has reached the budget (an earlier value would pose as a later one)."""
    idx = [i for i, s in enumerate(curve["step"]) if s <= budget]
    if not idx or curve["step"][-1] < budget:
        return None
    i = idx[-1]
    return curve["mean"][i], curve["std"][i], curve["n"][i], curve["step"][i]


def cell(c: tuple[float, float, int, int] | None, seeds: int, budget: int) -> str:
    """mean ± std, with the step it was scored at where that is not the column's budget
    (a budget between two evaluations reads the earlier one, and says so)."""
    if c is None:
        return "–"
    m, sd, n, step = c
    spread = f" ± {sd:.3f}" if n > 1 else ""  # one seed has no spread to show
    return (f"{m:.3f}{spread}" + (f" (n={n})" if n < seeds else "")
            + (f" (at {step:,})" if step != budget else ""))


def shown_first() -> list[str]:
    """The numbers of the metrics that keep a best (FID, the modes), in their order."""
    from ..evaluation.registry import all_metrics

    return [k for m in all_metrics().values() if m.best for k in m.better]


def metric_order(series: dict) -> list[str]:
    """The metrics to tabulate, those that keep a best first; a metric's own spread within
    one evaluation (kid_std, is_std) is not a metric of its own and gets no table."""
    names = sorted({m for s in series.values() for m in s["curves"]})
    names = [m for m in names if not (m.endswith("_std") and m.removesuffix("_std") in names)]
    first = [m for m in shown_first() if m in names]
    return first + [m for m in names if m not in first]


def table(series: dict, budgets: list[int]) -> str:
    """One Markdown table per metric: a row per series, a column per budget."""
    out = []
    batch = next(iter(series.values()))["batch"] if series else 0
    head = " | ".join(f"{b:,} steps ({b * batch / 1000:,.0f}k img)" for b in budgets)
    for metric in metric_order(series):
        spread = " (mean ± std over seeds)" if any(len(s["seeds"]) > 1 for s in series.values()) else ""
        out += [f"**{metric}**{spread}", "",
                f"| setting | seeds | {head} | DFM/adv. gradient ratio |",
                "|---|---:|" + "---:|" * len(budgets) + "---:|"]
        for name, s in series.items():
            if metric not in s["curves"]:
                continue
            text = [cell(at_budget(s["curves"][metric], b), len(s["seeds"]), b) for b in budgets]
            ratio = f"{statistics.mean(s['grad_ratio']):.3g}" if s["grad_ratio"] else "–"
            out.append(f"| {name} | {len(s['seeds'])} | " + " | ".join(text) + f" | {ratio} |")
        out.append("")
    return "\n".join(out)


MARKS = (2.0, 1.5, 1.0)  # multiples of the reference score: two easier marks, then the GAN's


def quality_key(series: dict) -> str | None:
    """The score time to quality reads: the first metric's best key that is lower-is-better
    and measured in this study (FID, where it is), from the metrics' own records."""
    from ..evaluation.registry import all_metrics

    have = {m for s in series.values() for m in s["curves"]}
    return next((m.best for m in all_metrics().values()
                 if m.best and m.lower_is_better(m.best) and m.best in have), None)


def time_to_quality(series: dict) -> dict:
    """Seconds of training each setting took to reach fixed FIDs: the GAN's final FID
    (the "gan" series, else the first) and two easier marks. Per seed, the clock at its
    first evaluation at or below the mark; the mean over the seeds that got there.
    {"reference": (name, fid), "marks": [...], "rows": {series: [(mean s or None, n), ...]}}"""
    key = quality_key(series)
    with_fid = {n: s for n, s in series.items() if key in s["curves"] and s["curves"][key]["step"]}
    if not with_fid:
        return {}
    ref = "gan" if "gan" in with_fid else next(iter(with_fid))
    target = with_fid[ref]["curves"][key]["mean"][-1]
    marks = [m * target for m in MARKS]
    machine, left_out = one_machine(with_fid)
    rows = {}
    for name, s in with_fid.items():
        per_seed, clocks = s["curves"][key]["per_seed"], s.get("clock", {})
        kept = [clocks.get(str(seed), {}) if s.get("machine", {}).get(str(seed)) == machine
                else {} for seed in s["seeds"]]
        rows[name] = [reached(per_seed, kept, mark) for mark in marks]
    return {"key": key, "reference": [ref, target], "marks": marks, "rows": rows,
            "machine": machine, "left_out": left_out}


def one_machine(series: dict) -> tuple[int | None, int]:
    """The machine whose clocks the table compares: the one most runs with a clock trained
    on (ties: a logged code before an unlogged one, then the smaller code), and how many
    runs with a clock are left out for training elsewhere, or across machines."""
    runs = {(name.removesuffix(RAW), seed): s.get("machine", {}).get(str(seed))
            for name, s in series.items() for seed in s["seeds"]
            if s.get("clock", {}).get(str(seed))}  # a run's raw-G series is the same run
    votes = Counter(runs.values())
    ranked = sorted((m for m in votes if m != "mixed"),
                    key=lambda m: (-votes[m], m is None, m if m is not None else 0))
    machine = ranked[0] if ranked else None
    return machine, sum(votes.values()) - votes[machine]


def reached(per_seed: list[dict], clocks: list[dict], mark: float) -> tuple[float | None, int]:
    """(mean seconds, seeds that reached ``mark``) over the seeds with a clock."""
    times = []
    for curve, clock in zip(per_seed, clocks):
        hit = next((int(st) for st, v in sorted(curve.items(), key=lambda kv: int(kv[0])) if v <= mark), None)
        if hit is not None and hit in clock:
            times.append(clock[hit])
    return (statistics.mean(times) if times else None), len(times)


def time_table(ttq: dict, seeds: dict[str, int]) -> str:
    if not ttq:
        return ""
    ref, target = ttq["reference"]
    head = " | ".join(f"{ttq['key']} ≤ {m:.2f}" + (f" ({ref}'s final)" if k == len(MARKS) - 1 else "")
                      for k, m in enumerate(ttq["marks"]))
    lines = ["**time to quality** (seconds of training to the first evaluation at or below each "
             "mark, evaluations left out; mean over the seeds that reached it, of those with a "
             "clock; one machine and thread count per study" + left_out_note(ttq) + ")", "",
             f"| setting | {head} |", "|---|" + "---:|" * len(ttq["marks"])]
    for name, cells in ttq["rows"].items():
        text = [("–" if t is None else f"{t:,.0f} s" if t >= 100 else f"{t:.2g} s") + (f" ({n}/{seeds[name]})" if n < seeds[name] else "")
                for t, n in cells]
        lines.append(f"| {name} | " + " | ".join(text) + " |")
    return "\n".join(lines + [""])


def left_out_note(ttq: dict) -> str:
    n = ttq.get("left_out", 0)
    return (f"; {n} run{'s' if n > 1 else ''} trained on another machine, or across machines, "
            "left out" if n else "")


def line_colors(names: list[str]) -> dict[str, tuple]:
    """One colour per setting, shared by its EMA and raw lines (told apart by dashes);
    tab20 past 10 settings, so that a 15-setting knob study repeats no colour."""
    from matplotlib import colormaps

    bases = list(dict.fromkeys(n.removesuffix(RAW) for n in names))
    cmap = colormaps["tab10" if len(bases) <= 10 else "tab20"]
    return {n: cmap(bases.index(n.removesuffix(RAW)) % cmap.N) for n in names}


def reference_lines(path: Path) -> dict[str, list[tuple[str, float]]]:
    """{metric: [(label, value)]} from a ``dfmgan baselines`` file written into the study
    folder (``--out STUDY/baselines.json``): its baselines, drawn as horizontal lines on the
    panels of the keys they share (``probe_100``, ...). None when there is no such file."""
    from ..reading import parse_json
    from .baselines import THIS_RUN

    try:
        rows = parse_json(path.read_text())["rows"]
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return {}
    lines: dict = {}
    for r in rows if isinstance(rows, list) else []:
        if not isinstance(r, dict) or r.get("features") == THIS_RUN:
            continue
        label = str(r.get("features")) + (f" K={r['k']}" if "k" in r else "")
        for key, v in r.items():
            if key.startswith("probe_") and not key.endswith("_std") and isinstance(v, float):
                lines.setdefault(key, []).append((label, v))
    return lines


def plot(series: dict, path: Path, references: dict | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # an estimate's own spread (is_std, kid_std) stays in the table and the JSON
    metrics = [m for m in metric_order(series) if not m.endswith("_std")] or shown_first()[:1]
    colors = line_colors(list(series))
    cols = min(PLOT_COLUMNS, len(metrics))
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    for ax, metric in zip(axes.flat, metrics):
        for name, s in series.items():
            c = s["curves"].get(metric)
            if not c or not c["step"]:
                continue
            x = [st * s["batch"] / 1000 for st in c["step"]]
            lo = [m - sd for m, sd in zip(c["mean"], c["std"])]
            hi = [m + sd for m, sd in zip(c["mean"], c["std"])]
            ax.plot(x, c["mean"], label=f"{name} ({len(s['seeds'])})", color=colors[name],
                    linestyle="--" if name.endswith(RAW) else "-")
            ax.fill_between(x, lo, hi, color=colors[name], alpha=0.15)
        for n, (label, value) in enumerate((references or {}).get(metric, [])):
            ax.axhline(value, color="0.35", linestyle=(0, (1, 1 + n)), linewidth=1)
            ax.annotate(label, (0, value), xycoords=("axes fraction", "data"), fontsize=6,
                        color="0.3", va="bottom")
        ax.set_xlabel("thousands of images seen")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def newest_grid(run_dir: Path) -> tuple[str, Path] | None:
    """(its step, as a caption's words, and path) of a run's newest sample grid, latest.png:
    the step from the newest numbered grid beside it, else from done.json (git keeps only
    latest.png and done.json of a finished study's runs)."""
    layout = RunLayout(run_dir)
    if not layout.grid().is_file():
        return None
    steps = [int(p.stem) for p in layout.samples.glob("[0-9]" * 8 + ".png")]
    try:
        done = json.loads(layout.done.read_text()).get("steps") if layout.done.is_file() else None
    except (OSError, ValueError, AttributeError):
        done = None
    step = max(steps) if steps else done if isinstance(done, int) else None
    return (f"step {step:,}" if step is not None else "latest"), layout.grid()


def captioned(path: Path, caption: str, band: int = 16):
    """The image at ``path`` under a white band with ``caption``; None if it cannot be read."""
    from PIL import Image, ImageDraw

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None  # a damaged grid leaves its panel out, never the study's results
    out = Image.new("RGB", (img.width, img.height + band), (255, 255, 255))
    out.paste(img, (0, band))
    ImageDraw.Draw(out).text((4, 2), caption, fill=(0, 0, 0))
    return out


def grids(study):
    """Each setting's newest grid from its lowest seed that has one, captioned "setting,
    seed, step", PLOT_COLUMNS to a row; None where no run has a grid yet."""
    from ..imageio import side_by_side

    panels = []
    for setting in dict.fromkeys(r.setting for r in study.runs):  # the spec's order
        for run in sorted((r for r in study.runs if r.setting == setting), key=lambda r: r.seed):
            found = newest_grid(run.folder)
            panel = found and captioned(found[1], f"{setting}, seed {run.seed}, {found[0]}")
            if panel is not None:
                panels.append(panel)
                break
    rows = [side_by_side(panels[i:i + PLOT_COLUMNS]) for i in range(0, len(panels), PLOT_COLUMNS)]
    return None if not rows else side_by_side(rows, down=True)


def write_results(study) -> dict[str, Path]:
    series = collect(study)
    files = StudyLayout(study.out)
    paths = {"curves": files.curves, "table": files.table, "plot": files.plot}
    if (sheet := grids(study)) is not None:
        from ..imageio import save_png

        paths["grids"] = save_png(sheet, files.grids)
    ttq = time_to_quality(series)
    atomic_write(paths["curves"], json.dumps({"budgets": study.budgets, "series": series,
                                              "time_to_quality": ttq}, indent=1).encode())
    seeds = {n: len(s["seeds"]) for n, s in series.items()}
    atomic_write(paths["table"], (table(series, study.budgets) + "\n" + time_table(ttq, seeds)).encode())
    if series:
        plot(series, paths["plot"], reference_lines(files.baselines))
    return paths
