"""Images/s of a preset's training step as `dfmgan train` sets it up (its objective, its
speed defaults), each measurement in its own process; optionally against another source
tree of dfmgan, alternating A B A B so the ratio holds on a noisy machine.

    python benchmarks/preset_speed.py --preset fashion-mnist --objectives gan,dfm
    python benchmarks/preset_speed.py --preset fashion-mnist,clipart-32,clipart-64 --threads 1
    git worktree add /tmp/old <commit>
    python benchmarks/preset_speed.py --against /tmp/old/src --pairs 5 --threads 1,2

Prints a Markdown table: the median images/s of each tree, the median of the pairwise
ratios (this tree / the other), and the measured process's peak resident memory (this tree).
Presets are interleaved pair by pair, so their ratio holds on a noisy machine too."""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "src"


def child(preset: str, objective: str, steps: int) -> None:
    """Runs in the measured process: prints images/s over ``steps`` after a warm-up."""
    import time

    import torch

    from dfmgan.models import Discriminator, Generator
    from dfmgan.objectives import build_objective
    from dfmgan.resolver import build_config
    from dfmgan.training import speed

    cfg = build_config(preset, overrides={"objective": {"name": objective}})
    torch.manual_seed(0)
    G, D = Generator(cfg.net), Discriminator(cfg.net)
    obj = build_objective(G, D, cfg.objective, cfg.optim)
    speed.apply(cfg.speed, obj, torch.device("cpu"))
    c, s = cfg.net.channels, cfg.net.size
    real = speed.layout(torch.rand(cfg.batch_size, c, s, s) * 2 - 1, cfg.speed)
    z = G.sample_latent(cfg.batch_size)
    for _ in range(3):
        obj.step(real, z)
    t0 = time.perf_counter()
    for _ in range(steps):
        obj.step(real, z)
    import resource

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(steps * cfg.batch_size / (time.perf_counter() - t0), peak_mib)


def measure(src: Path, preset: str, objective: str, steps: int, threads: int) -> tuple[float, float]:
    """(images/s, peak MiB) of one measured process."""
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, __file__, "--child", preset, objective, str(steps)],
                         env=env, capture_output=True, text=True, check=True)
    rate, peak = out.stdout.strip().splitlines()[-1].split()
    return float(rate), float(peak)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="fashion-mnist")
    ap.add_argument("--objectives", default="gan,dfm")
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--against", type=Path, help="another tree's src/ folder to pair with")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]))
    presets = args.preset.split(",")
    print(f"{', '.join(presets)}, {args.steps} steps after 3 warm-up, {args.pairs} pairs, median\n")
    print("| preset | objective | threads | this tree img/s | other tree img/s | ratio | peak MiB |\n"
          "|---|---|---:|---:|---:|---:|---:|")
    for objective in args.objectives.split(","):
        for threads in map(int, args.threads.split(",")):
            a = {p: [] for p in presets}
            b = {p: [] for p in presets}
            peak = {p: [] for p in presets}
            for _ in range(args.pairs):  # A B A B ..., every preset in each round
                for p in presets:
                    rate, mib = measure(HERE, p, objective, args.steps, threads)
                    a[p].append(rate)
                    peak[p].append(mib)
                    if args.against:
                        b[p].append(measure(args.against, p, objective, args.steps, threads)[0])
            for p in presets:
                ratio = statistics.median(x / y for x, y in zip(a[p], b[p])) if b[p] else None
                print(f"| {p} | {objective} | {threads} | {statistics.median(a[p]):.0f} | "
                      f"{statistics.median(b[p]) if b[p] else float('nan'):.0f} | "
                      f"{'' if ratio is None else f'{ratio:.3f}'} | {max(peak[p]):.0f} |")


if __name__ == "__main__":
    main()
