"""The linear probe of DCGAN §5.1–5.2: D's conv blocks max-pooled to 4×4, standardised,
and a regularised L2-SVM (scikit-learn's LinearSVC, squared hinge loss) with C chosen on a
validation split of the labelled images (above 5,000 examples the same model solved by
L-BFGS, ``l2svm.py``). Used by ``dfmgan probe`` (``tools/probe.py``) and by the ``probe``
metric (``probe.py``)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..data.transforms import to_float

C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
# fewer labelled examples of some class than this: no validation split; C is C_FEW
MIN_FOR_VALIDATION, C_FEW = 5, 1e-2
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


def l2svm(c: float, n: int, liblinear_max: int = LIBLINEAR_MAX):
    """Standardise, then the L2-SVM: LinearSVC for up to ``liblinear_max`` examples, else
    the same model solved by L-BFGS (``l2svm.TorchL2SVM``)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from .l2svm import TorchL2SVM

    svm = LinearSVC(C=c, loss="squared_hinge", dual="auto", max_iter=1000, random_state=0) \
        if n <= liblinear_max else TorchL2SVM(C=c)
    return make_pipeline(StandardScaler(), svm)


def fit_l2svm(x: np.ndarray, y: np.ndarray, seed: int, val_frac: float = 0.2,
              max_select: int = 10_000, c: float | None = None,
              liblinear_max: int = LIBLINEAR_MAX, grid: tuple[float, ...] = C_GRID):
    """Pick C on a stratified validation split (candidates fitted on at most
    ``max_select`` examples), unless ``c`` is given, then fit on every labelled example."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    if c is None and np.unique(y, return_counts=True)[1].min() < MIN_FOR_VALIDATION:
        c = C_FEW  # too few of some class to hold any out
    if c is not None:
        return l2svm(c, len(x), liblinear_max).fit(x, y), c, float("nan")
    xt, xv, yt, yv = train_test_split(x, y, test_size=val_frac, stratify=y, random_state=seed)
    xt, yt = xt[:max_select], yt[:max_select]
    with warnings.catch_warnings():  # liblinear may stop at max_iter on raw pixels: still
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fair linear probe
        scores = {c: l2svm(c, len(xt), liblinear_max).fit(xt, yt).score(xv, yv) for c in grid}
        best = max(scores, key=lambda c: (scores[c], -c))  # ties: the stronger regulariser
        return l2svm(best, len(x), liblinear_max).fit(x, y), best, scores[best]


def probe_one(train_x, train_y, test_x, test_y, budget: int | None, draws: int,
              seed: int, reuse_c: bool = False, liblinear_max: int = LIBLINEAR_MAX,
              grid: tuple[float, ...] = C_GRID) -> list[Fit]:
    """One feature set at one label budget (None: all labels), ``draws`` times; with
    ``reuse_c`` C is chosen on the first draw only (the metric's cheaper protocol)."""
    fits, c = [], None
    for d in range(draws if budget else 1):
        g = torch.Generator().manual_seed(seed + d)
        idx = per_class(train_y, budget, g) if budget else torch.arange(len(train_y))
        clf, chosen, val = fit_l2svm(train_x[idx].numpy(), train_y[idx].numpy(), seed + d,
                                     c=c, liblinear_max=liblinear_max, grid=grid)
        c = chosen if reuse_c else None
        fits.append(Fit(float(clf.score(test_x.numpy(), test_y.numpy())), chosen, val))
    return fits
