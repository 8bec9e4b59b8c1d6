"""Mode collapse on 2-D mixtures (the VEEGAN/PacGAN protocol), for gan, dfm and fm.

Data: the ring of 8 Gaussians (radius 1, σ = 0.01) and the grid of 25 (-4..4, σ = 0.05),
100,000 training points each. Nets: PacGAN's shapes (G: ReLU + BatchNorm layers, D: maxout layers).
PacGAN trains 400 epochs (400k steps) with Adam(1e-4, β1 = 0.8) and nets of 400/200
units; to fit a 2-core CPU we train fewer steps with narrower nets (G 4x256, D 3x128
maxout) and Adam(2e-4, β1 = 0.5) for every objective, batch 100; dfm uses its paper's
simultaneous updates and λ = 0.03/n_h, dfm-x1000 the same at a thousand times that λ (the
CLI's `dfm` default), gan and fm the alternating updates. After training, 2,500 samples are
scored: modes covered, high-quality share (within 3σ), reverse KL of the mode histogram.

    python benchmarks/mode_collapse.py --steps 6000 --seeds 5 --jobs 2 --out docs/mode_collapse.png
    python benchmarks/mode_collapse.py --data grid-25 --steps 48000 --seeds 3 --cache runs/mc48k

With ``--cache DIR`` every finished run is kept there (its figures as JSON, its samples as
.npy), and a rerun of the same command skips it: a killed study loses one run at most.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np

import torch
from tqdm import tqdm

from dfmgan.config import ObjectiveConfig, OptimConfig
from dfmgan.data import BatchSampler
from dfmgan.evaluation.modes import ModeReport, grid, mode_report, ring, sample_mixture
from dfmgan.models import MLPDiscriminator, MLPGenerator
from dfmgan.objectives import build_objective
from dfmgan.sampling import bn_mode

DATASETS = {"ring-8": (ring(), 0.01), "grid-25": (grid(), 0.05)}
# --objectives label -> (objective, update scheme, its own settings)
VARIANTS = {"gan": ("gan", "alternating", {}),
            "dfm": ("dfm", "simultaneous", {"lambda_scale": 1.0}),  # the paper's λ
            "dfm-x1000": ("dfm", "simultaneous", {"lambda_scale": 1000.0}),
            "fm": ("fm", "alternating", {})}


G_WIDTH, D_WIDTH, LR, BETA1 = 256, 128, 2e-4, 0.5


def train_one(data: str, objective: str, seed: int, steps: int, batch: int = 100):
    centres, std = DATASETS[data]
    g = torch.Generator().manual_seed(10_000 + seed)
    points = sample_mixture(centres, std, 100_000, g)
    torch.manual_seed(seed)
    G, D = MLPGenerator(width=G_WIDTH), MLPDiscriminator(width=D_WIDTH)
    name, scheme, own = VARIANTS[objective]
    obj = build_objective(G, D, ObjectiveConfig(name, scheme, own=dict(own)),
                          OptimConfig(lr=LR, beta1=BETA1))
    order, zg = BatchSampler(len(points), batch, seed), torch.Generator().manual_seed(seed)
    for _ in range(steps):
        obj.step(points[order.next()], G.sample_latent(batch, zg))
    with torch.no_grad(), bn_mode(G, "batch"):
        samples = G(G.sample_latent(2500, zg))
    return samples, mode_report(samples, centres, std)


def timed_run(job, cache: Path | None = None):
    """(samples, report, seconds) of one run; read from ``cache`` when it is there."""
    name = "{}-{}-s{}-{}".format(*job)
    if cache is not None and (cache / f"{name}.json").exists():
        saved = json.loads((cache / f"{name}.json").read_text())
        samples = torch.from_numpy(np.load(cache / f"{name}.npy", allow_pickle=False))
        return samples, ModeReport(**saved["report"]), saved["seconds"]
    t0 = time.perf_counter()
    samples, rep = train_one(*job)
    secs = time.perf_counter() - t0
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / f"{name}.npy", samples.numpy())
        (cache / f"{name}.json").write_text(json.dumps({"report": asdict(rep), "seconds": secs}))
    return samples, rep, secs


def fmt(values, pct=False):
    """mean ± std; a run with no high-quality sample has reverse KL = inf: say so."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < len(values):
        note = f" ({len(values) - len(finite)} runs: none in 3σ)"
        return (fmt(finite, pct) if finite else "n/a") + note
    k = 100 if pct else 1
    m = statistics.mean(values) * k
    s = statistics.stdev(values) * k if len(values) > 1 else 0.0
    return f"{m:.1f} ± {s:.1f}" if pct or abs(m) >= 1 else f"{m:.3f} ± {s:.3f}"


def scatter(results: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objectives = sorted({o for _, o in results})
    datasets = [d for d in DATASETS if any(d == k for k, _ in results)]
    fig, axes = plt.subplots(len(datasets), len(objectives), squeeze=False,
                             figsize=(3.2 * len(objectives), 3.2 * len(datasets)))
    for i, data in enumerate(datasets):
        centres, _ = DATASETS[data]
        for j, o in enumerate(objectives):
            ax = axes[i][j]
            s, rep = results[(data, o)][0]  # seed 0
            ax.scatter(s[:, 0], s[:, 1], s=2, alpha=0.4, c="black")
            ax.scatter(centres[:, 0], centres[:, 1], s=12, c="red", marker="x")
            lim = 1.5 if data.startswith("ring") else 6
            ax.set_xlim(-lim, lim), ax.set_ylim(-lim, lim), ax.set_aspect("equal")
            ax.set_title(f"{o} · {data}: {rep.modes} modes, {100 * rep.high_quality:.0f}% HQ",
                         fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--objectives", default="gan,dfm,fm", help=f"of {', '.join(VARIANTS)}")
    ap.add_argument("--out", default="docs/mode_collapse.png")
    ap.add_argument("--json", default=None, help="also write every run's figures here")
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel, one thread each")
    ap.add_argument("--data", default=",".join(DATASETS), help="which mixtures (default: both)")
    ap.add_argument("--threads", type=int, help="torch threads per job (default: 2 // jobs)")
    ap.add_argument("--cache", type=Path, help="keep each finished run here; a rerun skips it")
    args = ap.parse_args()
    objectives, datasets = args.objectives.split(","), args.data.split(",")
    unknown = [w for w in objectives if w not in VARIANTS] + [w for w in datasets if w not in DATASETS]
    if unknown:  # before any run starts, not as a traceback from a worker
        print(f"mode_collapse.py: unknown objective or data {unknown[0]!r} (objectives: "
              f"{', '.join(VARIANTS)}; data: {', '.join(DATASETS)})", file=sys.stderr)
        raise SystemExit(2)
    results, rows = {}, []
    jobs = [(d, o, s, args.steps) for d in datasets for o in objectives for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs, initializer=torch.set_num_threads,
                             initargs=(args.threads or max(1, 2 // args.jobs),)) as pool:
        for (data, o, seed, _), (samples, rep, secs) in zip(
                jobs, tqdm(pool.map(partial(timed_run, cache=args.cache), jobs), total=len(jobs), desc="runs")):
            results.setdefault((data, o), []).append((samples, rep))
            rows.append({"data": data, "objective": o, "seed": seed, "modes": rep.modes,
                         "high_quality": rep.high_quality, "reverse_kl": rep.reverse_kl,
                         "seconds": secs})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print(f"\n{args.steps} steps of batch 100, {args.seeds} seeds, mean ± std\n")
    print("| data | objective | modes covered | high-quality % | reverse KL | s/run |")
    print("|---|---|---|---|---|---:|")
    for (data, o), runs in results.items():
        reps = [r for _, r in runs]
        secs = [r["seconds"] for r in rows if r["data"] == data and r["objective"] == o]
        print(f"| {data} | {o} | {fmt([r.modes for r in reps])} / {len(DATASETS[data][0])} "
              f"| {fmt([r.high_quality for r in reps], pct=True)} "
              f"| {fmt([r.reverse_kl for r in reps])} | {statistics.mean(secs):.0f} |")
    scatter(results, args.out)
    print(f"\nscatter plot (seed 0): {args.out}")


if __name__ == "__main__":
    main()
