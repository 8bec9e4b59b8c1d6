"""Does the ``probe`` metric's closed-form least-squares classifier agree with the L2-SVM of
``dfmgan probe``, and what does each cost? Side by side in one process, on the same pooled
features: ``python benchmarks/probe_solvers.py RUN [RUN ...] [--draws 3]``.

For each run's D (and a randomly initialised D of the same architecture) on the run's
data: D's 4×4-max-pooled features of 5,000 labelled training images (the metric's fit
pool) and of the whole test split, then at 10, 100 and 400 labels per class, ``--draws``
draws each, three protocols:
- ``svm``: ``dfmgan probe``'s L2-SVM, C from its five-value grid on every draw, every fit
  by L-BFGS (``l2svm.TorchL2SVM``, the model of LinearSVC, held to its accuracy by a test;
  liblinear itself took over 20 minutes for the 400-per-class draws here);
- ``svm-fast``: the same model by L-BFGS, C from three values on the first draw only (the
  metric before issue 28's second part);
- ``ridge``: ``ridge.py``, α from three values on the first draw only (the metric now).
Prints one row per features × budget: accuracy mean ± std and seconds for each."""
from __future__ import annotations

import argparse
import statistics
import time

import torch


def protocols():
    from dfmgan.evaluation.linear_probe import ridge_fitter, svm_fitter

    old_grid = (1e-4, 1e-3, 1e-2)  # the metric's C values before it moved to ridge.py
    return {"svm": (svm_fitter(0), False), "svm-fast": (svm_fitter(0, old_grid), True),
            "ridge": (ridge_fitter(), True)}


def features(run: str, n_fit: int, seed: int):
    """{name: (fit x, fit y, test x, test y)} for the run's D and a random D."""
    from dfmgan.data import draw_labelled, load_dataset
    from dfmgan.evaluation.api import test_split
    from dfmgan.evaluation.linear_probe import pooled_features
    from dfmgan.models import Discriminator
    from dfmgan.snapshot import load_discriminator

    D, meta = load_discriminator(run)
    torch.manual_seed(seed)
    nets = {f"{run.rstrip('/').split('/')[-1]} D": D, "random D": Discriminator(D.cfg)}
    src = load_dataset(meta["data"], None, None, D.cfg.size, D.cfg.channels)
    x, y = draw_labelled(src, n_fit, torch.Generator().manual_seed(seed))
    test = test_split(meta["data"], None, D.cfg.size, D.cfg.channels)
    return {name: (pooled_features(net, x), y, pooled_features(net, test.images), test.labels)
            for name, net in nets.items()}


def main() -> None:
    from dfmgan.evaluation.linear_probe import probe_one

    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+")
    p.add_argument("--draws", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    names = list(protocols())
    print("| features | labels/class | " + " | ".join(f"{n} acc | {n} s" for n in names) + " |")
    print("|---|---:|" + "---:|---:|" * len(names))
    sets = {}
    for run in a.runs:
        sets.update(features(run, 5000, a.seed))
    for name, (fx, fy, tx, ty) in sets.items():
        for budget in (10, 100, 400):
            cells = []
            for fit, reuse in protocols().values():
                t0 = time.perf_counter()
                accs = [f.accuracy for f in probe_one(fx, fy, tx, ty, budget, a.draws, a.seed,
                                                       reuse_c=reuse, fit=fit)]
                s = time.perf_counter() - t0
                cells.append(f"{100 * statistics.mean(accs):.2f} ± "
                             f"{100 * statistics.stdev(accs):.2f} | {s:.1f}")
            print(f"| {name} | {budget} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
