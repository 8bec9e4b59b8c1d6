"""A linear L2-SVM (squared hinge loss, L2 penalty, one-vs-rest) solved with full-batch
L-BFGS in PyTorch: the model of scikit-learn's ``LinearSVC(loss="squared_hinge")``,
bias penalised as liblinear does (intercept_scaling = 1).

Why it is written here: liblinear is single-threaded, and on machine A (2 cores) one
LinearSVC fit on 10k × 3,584 pooled D features took 112–152 s and on 60k × 3,584 took
547 s, so the probe's all-labels column (5 candidate C values + a refit, 4 feature sets)
would take hours. The squared hinge is smooth, so L-BFGS converges to the same optimum
with multi-threaded matrix products; a test checks it agrees with LinearSVC."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin


class TorchL2SVM(ClassifierMixin, BaseEstimator):
    """min_W,b  ½‖W‖² + ½‖b‖² + C Σ_i Σ_k max(0, 1 − y_ik (w_k·x_i + b_k))²,
    y_ik = +1 for the true class k, −1 otherwise."""

    def __init__(self, C: float = 1.0, max_iter: int = 200, tol: float = 1e-5):
        self.C, self.max_iter, self.tol = C, max_iter, tol

    def fit(self, x: np.ndarray, y: np.ndarray) -> "TorchL2SVM":
        xt = torch.as_tensor(x, dtype=torch.float32)
        self.classes_ = np.unique(y)
        target = torch.as_tensor(y[:, None] == self.classes_[None], dtype=torch.float32) * 2 - 1
        w = torch.zeros(xt.shape[1] + 1, len(self.classes_), dtype=torch.float32, requires_grad=True)
        opt = torch.optim.LBFGS([w], lr=1, max_iter=self.max_iter, tolerance_grad=self.tol,
                                tolerance_change=1e-12, history_size=20,
                                line_search_fn="strong_wolfe")

        def loss():
            opt.zero_grad()
            margin = (1 - target * (xt @ w[:-1] + w[-1])).clamp(min=0)  # (N, K)
            value = 0.5 * w.pow(2).sum() + self.C * margin.pow(2).sum()
            value.backward()
            return value

        opt.step(loss)
        self.coef_, self.intercept_ = w[:-1].detach().T.numpy(), w[-1].detach().numpy()
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float32) @ self.coef_.T + self.intercept_

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.decision_function(x).argmax(1)]

