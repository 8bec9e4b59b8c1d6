"""What the ``probe`` metric costs beside training, side by side in one process:
``python benchmarks/probe_cost.py [--steps 50]``. Prints one evaluation's seconds (D's
pooled features of the reference and the test split, then the L2-SVM fits at 10, 100 and
400 labels per class, 3 draws each) against the seconds of ``--steps`` training steps of
the fashion-mnist preset, and the share of a study evaluating every 1,000 steps."""
from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    import shutil

    from dfmgan.data import load_dataset
    from dfmgan.evaluation.api import test_split
    from dfmgan.evaluation.during import TrainingEvaluator
    from dfmgan.resolver import build_config
    from dfmgan.snapshot import load_discriminator, load_generator
    from dfmgan.training import train

    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--out", default="/tmp/probe_cost_run")
    a = p.parse_args()
    cfg = build_config("fashion-mnist", overrides={"steps": a.steps, "eval_every": 0})
    shutil.rmtree(a.out, ignore_errors=True)
    t0 = time.perf_counter()
    train(cfg, a.out, progress=False)
    train_s = (time.perf_counter() - t0) / a.steps  # start-up included: an upper bound
    G, D = load_generator(a.out).net, load_discriminator(a.out)[0]
    source = load_dataset(cfg.data.name, cfg.data.root, None, 32, 1)
    ev = TrainingEvaluator(source, cfg.data.name, G, 5000, 0, "cpu", "probe",
                           test_split=lambda: test_split(cfg.data.name, cfg.data.root, 32, 1))
    t0 = time.perf_counter()
    scores = ev.scores(G, D, step=1)
    probe_s = time.perf_counter() - t0
    print("| threads | train step (s) | one probe evaluation (s) | share, every 1,000 steps |")
    print("|---:|---:|---:|---:|")
    print(f"| {torch.get_num_threads()} | {train_s:.3f} | {probe_s:.1f} | "
          f"{probe_s / (probe_s + 1000 * train_s):.1%} |")
    print({k: round(v, 4) for k, v in scores.items()})


if __name__ == "__main__":
    main()
