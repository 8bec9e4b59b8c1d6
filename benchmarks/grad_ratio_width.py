"""How strongly G feels DFM's denoiser as the nets widen (issue 31), under three λ rules:
``python benchmarks/grad_ratio_width.py [--widths 8,16,32,64] [--steps 30] [--seeds 2]``.

Each cell trains the ``fashion-mnist`` preset's DFM (its data, λ ×1,000, simultaneous
updates) with ``net.g_width = net.d_width = W`` for ``--steps`` steps, logging every step,
and prints the median of ``dfm/grad_ratio`` (‖∂ λ L_dfm/∂G(z)‖ over ‖∂ L_adv/∂G(z)‖) over
the steps and seeds. The rules:
- ``default``: λ = 1,000 × 0.03 / n_h (n_h = 64 W at 32 px), the CLI's;
- ``fixed λ``: λ held at the default's value at width 32 (0.03 × 1,000 / 2,048) at every
  width, i.e. λ ×(n_h / 2,048) per unit of the paper's rule;
- ``share 0.3``: ``objective.dfm.grad_share`` sets λ each step so that the ratio is 0.3.
Early steps only: this shows how the rules scale with width, not what a trained run sees."""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from tqdm import tqdm

LAMBDA_AT_32 = 1000 * 0.03 / 2048  # the default λ at the preset's width (n_h = 2,048)
RULES = {"default": {}, "fixed λ": {"lambda_denoise": LAMBDA_AT_32},
         "share 0.3": {"grad_share": 0.3}}


def ratios(width: int, own: dict, steps: int, seed: int) -> list[float]:
    """dfm/grad_ratio at every step of one short run."""
    from dfmgan.resolver import build_config
    from dfmgan.training import train
    from dfmgan.training.stats import read_stats

    cfg = build_config("fashion-mnist", overrides={
        "steps": steps, "log_every": 1, "eval_every": 0, "sample_every": steps, "seed": seed,
        "checkpoint_every": steps, "net": {"g_width": width, "d_width": width},
        "objective": {"name": "dfm", "dfm": own}})
    with tempfile.TemporaryDirectory() as out:
        train(cfg, out, progress=False)
        rows = read_stats(Path(out) / "stats.jsonl")
    return [r["dfm/grad_ratio"] for r in rows if "dfm/grad_ratio" in r]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--widths", default="8,16,32,64")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--seeds", type=int, default=2)
    a = p.parse_args()
    widths = [int(w) for w in a.widths.split(",")]
    cells = [(w, rule) for w in widths for rule in RULES]
    table = {}
    for w, rule in tqdm(cells, desc="cells"):
        seen = [r for s in range(a.seeds) for r in ratios(w, RULES[rule], a.steps, s)]
        table[w, rule] = statistics.median(seen)
    print(f"median dfm/grad_ratio over steps 1–{a.steps}, {a.seeds} seeds")
    print("| width | n_h | " + " | ".join(RULES) + " |")
    print("|---:|---:|" + "---:|" * len(RULES))
    for w in widths:
        print(f"| {w} | {64 * w:,} | " + " | ".join(f"{table[w, r]:.3g}" for r in RULES) + " |")


if __name__ == "__main__":
    main()
