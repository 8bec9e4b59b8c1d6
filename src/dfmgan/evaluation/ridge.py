"""A least-squares linear classifier in closed form: the ``probe`` metric's fast stand-in
for the L2-SVM of DCGAN §5.1.

One-vs-rest ridge regression onto ±1 targets (a least-squares SVM, Suykens & Vandewalle
1999) on standardised features, with an unpenalised bias:

    min_W  ‖Y − X W − 1 bᵀ‖² + α‖W‖²,   Y_ik = +1 for the true class k, −1 otherwise.

It differs from the squared-hinge L2-SVM only in also penalising examples that sit beyond
the margin, and ``benchmarks/probe_solvers.py`` measures the accuracies of the two on D's
features side by side (BENCHMARKS.md, "The probe metric's cost").

Why it is written here rather than scikit-learn's ``RidgeClassifier``: that recomputes the
Gram matrix for every α of the grid, and ``RidgeClassifierCV`` eigendecomposes it; here
one Gram serves every α (one Cholesky each), in the dual form when there are fewer
examples than features (n ≤ d: an n × n system) and in the primal otherwise."""
from __future__ import annotations

from dataclasses import dataclass

import torch

ALPHAS = (1e2, 1e3, 1e4)  # α; see BENCHMARKS.md, "The probe metric's cost"
ALPHA_FEW = 1e3  # fewer than 5 labels of some class: no validation split, the grid's middle


@dataclass
class Standardised:
    """Features centred and scaled by the fit set's statistics (as ``StandardScaler``)."""
    mean: torch.Tensor  # (d,)
    scale: torch.Tensor  # (d,)

    @classmethod
    def of(cls, x: torch.Tensor) -> "Standardised":
        std = x.std(0, unbiased=False)
        return cls(x.mean(0), torch.where(std > 0, std, torch.ones_like(std)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale


def targets(y: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """(n,) labels -> (n, K) ±1 one-vs-rest targets."""
    return (y[:, None] == classes[None]).double() * 2 - 1


class Ridge:
    """Solve the problem above for several α from one Gram matrix. ``x`` (n, d) already
    standardised (so centred: the bias is the targets' mean), ``y`` (n,) labels."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x = x.float()
        self.classes = y.unique()
        t = targets(y, self.classes)
        self.bias = t.mean(0)  # (K,)
        self.t = t - self.bias  # (n, K), centred
        self.dual = len(x) <= x.shape[1]
        # (n, n) in the dual form, (d, d) in the primal; float32 products, float64 solves
        g = self.x @ self.x.T if self.dual else self.x.T @ self.x
        self.gram = g.double()

    def weights(self, alpha: float) -> torch.Tensor:
        """(d, K) for one α."""
        a = self.gram + alpha * torch.eye(len(self.gram), dtype=torch.float64)
        chol = torch.linalg.cholesky(a)
        if self.dual:  # W = Xᵀ (X Xᵀ + αI)⁻¹ T
            return self.x.T.double() @ torch.cholesky_solve(self.t, chol)
        return torch.cholesky_solve(self.x.T.double() @ self.t, chol)  # (XᵀX + αI)⁻¹ Xᵀ T

    def classifier(self, alpha: float) -> "Linear":
        return Linear(self.weights(alpha).float(), self.bias.float(), self.classes)


@dataclass
class Linear:
    w: torch.Tensor  # (d, K)
    b: torch.Tensor  # (K,)
    classes: torch.Tensor  # (K,) the labels the columns stand for

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.classes[(x.float() @ self.w + self.b).argmax(1)]

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        return float((self.predict(x) == y).double().mean())
