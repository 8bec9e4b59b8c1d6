"""The linear probe of DCGAN §5.1–5.2: D's conv blocks max-pooled to 4×4, standardised,
and a linear classifier fitted on labelled draws, its regulariser chosen on a stratified
validation split. Two fitters: the regularised L2-SVM of ``dfmgan probe`` (scikit-learn's
LinearSVC, squared hinge loss; above 5,000 examples the same model solved by L-BFGS,
``l2svm.py``), and the closed-form least-squares classifier of the ``probe`` metric
(``ridge.py``). Used by ``dfmgan probe`` (``tools/probe.py``), the ``probe`` metric
(``probe.py``) and its baselines (``tools/baselines.py``)."""
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


def holdout(y: np.ndarray, seed: int, val_frac: float = 0.2):
    """(train, validation) indices of a stratified split, or None when some class has
    fewer than ``MIN_FOR_VALIDATION`` examples to hold any out."""
    from sklearn.model_selection import train_test_split

    if np.unique(y, return_counts=True)[1].min() < MIN_FOR_VALIDATION:
        return None
    return train_test_split(np.arange(len(y)), test_size=val_frac, stratify=y,
                            random_state=seed)


def fit_l2svm(x: np.ndarray, y: np.ndarray, seed: int, max_select: int = 10_000,
              c: float | None = None, liblinear_max: int = LIBLINEAR_MAX,
              grid: tuple[float, ...] = C_GRID):
    """Pick C on a stratified validation split (candidates fitted on at most
    ``max_select`` examples), unless ``c`` is given, then fit on every labelled example."""
    from sklearn.exceptions import ConvergenceWarning

    split = holdout(y, seed) if c is None else None
    if split is None:
        c = C_FEW if c is None else c  # too few of some class to hold any out
        return l2svm(c, len(x), liblinear_max).fit(x, y), c, float("nan")
    t, v = split
    xt, yt = x[t[:max_select]], y[t[:max_select]]
    with warnings.catch_warnings():  # liblinear may stop at max_iter on raw pixels: still
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fair linear probe
        scores = {c: l2svm(c, len(xt), liblinear_max).fit(xt, yt).score(x[v], y[v])
                  for c in grid}
        best = max(scores, key=lambda c: (scores[c], -c))  # ties: the stronger regulariser
        return l2svm(best, len(x), liblinear_max).fit(x, y), best, scores[best]


# a fitter: (x (n, F), y (n,), seed, the regulariser or None to choose it)
#   -> (score(test_x, test_y) -> accuracy, the regulariser used, its validation accuracy)
Fitter = Callable[[torch.Tensor, torch.Tensor, int, "float | None"],
                  tuple[Callable[[torch.Tensor, torch.Tensor], float], float, float]]


def svm_fitter(liblinear_max: int = LIBLINEAR_MAX, grid: tuple[float, ...] = C_GRID) -> Fitter:
    """The L2-SVM of ``dfmgan probe`` as a fitter (regulariser: C)."""
    def fit(x, y, seed, c):
        clf, chosen, val = fit_l2svm(x.numpy(), y.numpy(), seed, c=c,
                                     liblinear_max=liblinear_max, grid=grid)
        return lambda tx, ty: float(clf.score(tx.numpy(), ty.numpy())), chosen, val
    return fit


def ridge_fitter(alphas: tuple[float, ...] | None = None) -> Fitter:
    """The closed-form least-squares classifier (``ridge.py``) as a fitter (regulariser: α,
    chosen as C is above, on a stratified validation split, with one Gram for the grid)."""
    from .ridge import ALPHA_FEW, ALPHAS, Ridge, Standardised

    alphas = alphas or ALPHAS

    def solve(x, y, idx):  # standardised by the fitted examples' statistics
        scale = Standardised.of(x[idx])
        return scale, Ridge(scale(x[idx]), y[idx])

    def choose(x, y, seed) -> tuple[float, float]:
        split = holdout(y.numpy(), seed)
        if split is None:
            return ALPHA_FEW, float("nan")  # too few of some class to hold any out
        t, v = (torch.as_tensor(i) for i in split)
        scale, r = solve(x, y, t)
        scores = {a: r.classifier(a).accuracy(scale(x[v]), y[v]) for a in alphas}
        best = max(scores, key=lambda a: (scores[a], a))  # ties: the stronger regulariser
        return best, scores[best]

    def fit(x, y, seed, alpha):
        alpha, val = (alpha, float("nan")) if alpha is not None else choose(x, y, seed)
        scale, r = solve(x, y, torch.arange(len(y)))
        clf = r.classifier(alpha)
        return lambda tx, ty: clf.accuracy(scale(tx), ty), alpha, val
    return fit


def probe_one(train_x, train_y, test_x, test_y, budget: int | None, draws: int,
              seed: int, reuse_c: bool = False, fit: Fitter | None = None) -> list[Fit]:
    """One feature set at one label budget (None: all labels), ``draws`` times, fitted by
    ``fit`` (default: ``svm_fitter()``); with ``reuse_c`` the regulariser is chosen on the
    first draw only (the metric's cheaper protocol)."""
    fit, fits, c = fit or svm_fitter(), [], None
    for d in range(draws if budget else 1):
        g = torch.Generator().manual_seed(seed + d)
        idx = per_class(train_y, budget, g) if budget else torch.arange(len(train_y))
        score, chosen, val = fit(train_x[idx], train_y[idx], seed + d, c)
        c = chosen if reuse_c else None
        fits.append(Fit(score(test_x, test_y), chosen, val))
    return fits
