"""The cost of a training step under each setting of the r3-dfm study (issue 45), side by
side in one process: gan, dfm, r3 (relativistic pairing + R1 + R2, each a double backward
through D), r3 + dfm, and r3 with the penalties lazy (every k-th D step, weighted by k).

Each setting is resolved from the clipart-32 preset exactly as `dfmgan train` resolves it
(the nets, the objective and its terms, the optimiser), stepped on random data of the
preset's shape; rounds go A B C D E, A B C D E, ... so a machine whose speed drifts shifts
every setting alike, and each ratio is the median over rounds of the per-round ratio to gan.

    python benchmarks/reg_cost.py [--rounds 7] [--steps 5] [--threads 1]

Prints a Markdown table; results are recorded in docs/results/dfm.md with the machine."""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from dfmgan.models import Discriminator, Generator
from dfmgan.objectives import build_objective
from dfmgan.resolver import resolve

SETTINGS = {  # name: the study's overrides of the clipart-32 preset
    "gan": {"objective.name": "gan"},
    "dfm": {"objective.name": "dfm"},
    "r3": {"objective.name": "r3"},
    "r3 + dfm": {"objective.name": "dfm", "objective.adversarial": "rpgan",
                 "objective.r1": 0.1, "objective.r2": 0.1},
    "r3, lazy k=16": {"objective.name": "r3", "objective.reg_every": 16},
}


def stepper(overrides: dict):
    """A function doing ``steps`` training steps of the resolved setting; the terms' cost
    included (the lazy rule's counter advances inside the objective)."""
    cfg = resolve(nest(overrides), preset="clipart-32")
    torch.manual_seed(0)
    G, D = Generator(cfg.net), Discriminator(cfg.net)
    obj = build_objective(G, D, cfg.objective, cfg.optim)
    b, n = cfg.batch_size, cfg.net
    real = torch.rand(b, n.channels, n.size, n.size) * 2 - 1
    z = G.sample_latent(b)

    def run(steps: int) -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            obj.step(real, z)
        return (time.perf_counter() - t0) / steps
    return run, b


def nest(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=5, help="steps per setting per round")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    runs = {name: stepper(o) for name, o in SETTINGS.items()}
    for run, _ in runs.values():  # warm-up: allocator, first lazy step
        run(2)
    times = {name: [] for name in runs}
    for _ in range(a.rounds):
        for name, (run, _) in runs.items():
            times[name].append(run(a.steps))
    batch = next(iter(runs.values()))[1]
    print(f"machine: {platform.processor() or platform.machine()}, {a.threads} thread(s), torch "
          f"{torch.__version__}, clipart-32 nets, batch {batch}, {a.rounds} rounds x {a.steps} steps\n")
    print("| setting | s/step (median) | images/s | x gan (median of per-round ratios) |\n"
          "|---|---:|---:|---:|")
    for name, ts in times.items():
        ratio = statistics.median(t / g for t, g in zip(ts, times["gan"]))
        med = statistics.median(ts)
        print(f"| {name} | {med:.3f} | {batch / med:.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
