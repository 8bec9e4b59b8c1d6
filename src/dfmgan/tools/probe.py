"""The discriminator as a feature extractor (DCGAN §5.1–5.2, Tables 1–2).

Every conv layer of D is max-pooled to a 4×4 grid; the results are flattened,
concatenated and standardised, and a regularised L2-SVM (scikit-learn's LinearSVC,
squared hinge loss) is fitted on them, with C chosen on a validation split held out of
the labelled images (above 5,000 examples the same model is solved by L-BFGS, see
``l2svm.py``). Label budgets are all labels or N per class (repeated draws give
mean ± std). Baselines in the same table: raw pixels, a randomly initialised D of the
same architecture, and single-layer K-means features (``kmeans.py``)."""
from __future__ import annotations

import statistics
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..data.transforms import to_float
from ..errors import DfmganError

C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
Featurizer = Callable[[torch.Tensor], torch.Tensor]  # uint8 (N, C, H, W) -> (N, F)


@torch.no_grad()
def pooled_features(D, images: torch.Tensor, batch: int = 500, device="cpu",
                    progress: bool = False) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, Σ C_i·16): each conv block max-pooled to 4×4."""
    D = D.to(device).eval()
    out = []
    for i in tqdm(range(0, len(images), batch), desc="D features", disable=not progress,
                  leave=False):
        blocks = D.features(to_float(images[i:i + batch]).to(device)).blocks
        # (B, C_i, H_i, W_i) -> (B, C_i, 4, 4) -> (B, C_i * 16), concatenated over blocks
        out.append(torch.cat([nn.functional.adaptive_max_pool2d(b, 4).flatten(1)
                              for b in blocks], 1).cpu())
    return torch.cat(out)


def pixels(images: torch.Tensor) -> torch.Tensor:
    return images.flatten(1).float()


def per_class(labels: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``n`` random examples of every class (all of a class that has fewer)."""
    picks = []
    for c in labels.unique():
        idx = torch.nonzero(labels == c).flatten()
        picks.append(idx[torch.randperm(len(idx), generator=generator)[:n]])
    return torch.cat(picks)


@dataclass
class Fit:
    accuracy: float  # on the test split
    C: float
    val_accuracy: float


LIBLINEAR_MAX = 5_000  # above this many examples liblinear takes minutes here: see l2svm.py


def l2svm(c: float, n: int):
    """Standardise, then the L2-SVM: LinearSVC for up to LIBLINEAR_MAX examples, else the
    same model solved by L-BFGS (``l2svm.TorchL2SVM``)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from .l2svm import TorchL2SVM

    svm = LinearSVC(C=c, loss="squared_hinge", dual="auto", max_iter=1000) \
        if n <= LIBLINEAR_MAX else TorchL2SVM(C=c)
    return make_pipeline(StandardScaler(), svm)


def fit_l2svm(x: np.ndarray, y: np.ndarray, seed: int, val_frac: float = 0.2,
              max_select: int = 10_000):
    """Pick C on a stratified validation split (candidates fitted on at most
    ``max_select`` examples), then refit on every labelled example."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    xt, xv, yt, yv = train_test_split(x, y, test_size=val_frac, stratify=y, random_state=seed)
    xt, yt = xt[:max_select], yt[:max_select]
    with warnings.catch_warnings():  # liblinear may stop at max_iter on raw pixels: still
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fair linear probe
        scores = {c: l2svm(c, len(xt)).fit(xt, yt).score(xv, yv) for c in C_GRID}
        best = max(scores, key=lambda c: (scores[c], -c))  # ties: the stronger regulariser
        return l2svm(best, len(x)).fit(x, y), best, scores[best]


def probe_one(train_x, train_y, test_x, test_y, budget: int | None, draws: int,
              seed: int) -> list[Fit]:
    """One feature set at one label budget (None: all labels), ``draws`` times."""
    fits = []
    for d in range(draws if budget else 1):
        g = torch.Generator().manual_seed(seed + d)
        idx = per_class(train_y, budget, g) if budget else torch.arange(len(train_y))
        clf, c, val = fit_l2svm(train_x[idx].numpy(), train_y[idx].numpy(), seed + d)
        fits.append(Fit(float(clf.score(test_x.numpy(), test_y.numpy())), c, val))
    return fits


def probe(featurizers: dict[str, Featurizer], train, test, budgets: list[int | None],
          draws: int = 5, seed: int = 0, progress: bool = False) -> list[dict]:
    """Rows of the probe table: one per feature set and label budget."""
    if train.labels is None or test.labels is None:
        raise DfmganError("the probe needs labelled data (digits, mnist, fashion-mnist, "
                          "cifar10, svhn, stl10 train/test)")
    rows = []
    bar = tqdm(total=len(featurizers) * len(budgets), desc="probe", disable=not progress)
    for name, featurize in featurizers.items():
        tr, te = featurize(train.images), featurize(test.images)
        for budget in budgets:
            bar.set_postfix_str(f"{name}, {budget or 'all'} labels")
            fits = probe_one(tr, train.labels, te, test.labels, budget, draws, seed)
            accs = [f.accuracy for f in fits]
            rows.append({"features": name, "dim": tr.shape[1],
                         "labels": f"{budget}/class" if budget else "all",
                         "accuracy": statistics.mean(accs),
                         "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                         "draws": len(fits), "C": [f.C for f in fits]})
            bar.update()
    bar.close()
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| features | dim | labels | test accuracy | test error |", "|---|---:|---|---:|---:|"]
    for r in rows:
        pm = f" ± {100 * r['std']:.2f}" if r["draws"] > 1 else ""
        lines.append(f"| {r['features']} | {r['dim']} | {r['labels']} | "
                     f"{100 * r['accuracy']:.2f}%{pm} | {100 * (1 - r['accuracy']):.2f}% |")
    return "\n".join(lines)


def parse_budgets(text: str) -> list[int | None]:
    out = []
    for t in (t.strip() for t in text.split(",") if t.strip()):
        if t != "all" and not (t.isdigit() and int(t) > 0):
            raise DfmganError(f"--labels: {t!r} is neither a positive count per class nor 'all'")
        out.append(None if t == "all" else int(t))
    return out


def featurizers(D, baselines: list[str], k: int, fit_images: torch.Tensor, seed: int,
                device) -> dict[str, Featurizer]:
    """The trained D first, then the baselines asked for, by name."""
    from ..models import Discriminator
    from .kmeans import KMeansFeatures

    def random_d():
        torch.manual_seed(seed)
        return Discriminator(D.cfg)

    known = {
        "random-d": lambda: ("D (random init)", lambda x, R=random_d(): pooled_features(R, x, device=device)),
        "pixels": lambda: ("raw pixels", pixels),
        "kmeans": lambda: (f"k-means, K={k}", KMeansFeatures.fit(fit_images, k, seed=seed).encode),
    }
    bad = [b for b in baselines if b not in known]
    if bad:
        raise DfmganError(f"unknown baseline {bad[0]!r}; choose from {', '.join(known)}")
    out = {"D (trained)": lambda x: pooled_features(D, x, device=device, progress=True)}
    out.update(known[b]() for b in baselines)
    return out


def run_probe(source, data, root, labels: str, draws: int, baselines: str, k: int, seed: int,
              device, out) -> tuple[list[dict], str]:
    """``dfmgan probe``: the table, also written as JSON to ``out``."""
    import json
    from pathlib import Path

    from ..files import atomic_write
    from ..data import load_dataset
    from ..snapshot import load_discriminator

    D, meta = load_discriminator(source, device)
    if D.cfg.n_classes:
        raise DfmganError("the probe reads an unconditional D (a conditional one sees the label)")
    data = data or meta.get("data")
    budgets = parse_budgets(labels)
    train = load_dataset(data, root, None, D.cfg.size, D.cfg.channels)
    test = load_dataset(data, root, "test", D.cfg.size, D.cfg.channels)
    names = [b.strip() for b in baselines.split(",") if b.strip()]
    rows = probe(featurizers(D, names, k, train.images, seed, device), train, test, budgets,
                 draws, seed, progress=True)
    record = {"source": str(source), "step": meta.get("step"), "data": data,
              "train": train.description, "test": test.description, "seed": seed, "rows": rows}
    atomic_write(Path(out), json.dumps(record, indent=2).encode())
    return rows, table(rows)
