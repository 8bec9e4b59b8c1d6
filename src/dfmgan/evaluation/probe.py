"""``probe``: how good are D's features? DCGAN §5.1 as a metric, cheap enough to track
during training.

D's conv blocks, max-pooled to 4×4 and concatenated (``linear_probe.pooled_features``), on
the reference's labelled real images (the fit pool) and on the real test split; for each
label budget (``MetricOptions.probe_budgets`` per class, default 10, 100 and 400) a linear
classifier is fitted on ``probe_draws`` draws from the pool and scored on the test split.
It reports ``probe_<budget>`` (mean test accuracy) and ``probe_<budget>_std`` (over the
draws).

To be cheap enough for every evaluation it differs from ``dfmgan probe``'s L2-SVM in two
ways: the classifier is the closed-form least-squares one of ``ridge.py`` (the squared
loss instead of the squared hinge, one Gram matrix for the whole α grid), and α is chosen
on a validation split of the first draw only and kept for the others.
``benchmarks/probe_solvers.py`` measures it against the L2-SVM on the same features
(BENCHMARKS.md, "The probe metric's cost": within two points, 11–19× faster).

It reads D, not G: during training it is computed once per evaluation, and D is copied
first, so the run's D (its BatchNorm mode, its buffers) is left as it was."""
from __future__ import annotations

import copy
import statistics

from ..errors import DfmganError
from .linear_probe import pooled_features, probe_one, ridge_fitter
from .registry import Judged, MetricOptions, register_metric

BUDGETS = (10, 100, 400)  # labels per class: the DCGAN paper's 400, and fewer
# None in MetricOptions.probe_budgets: every labelled image of the fit pool, one fit
# (``probe_all``); ``dfmgan baselines --labels all --n-real all`` makes the pool the whole
# training split, the paper's "all labels"


def key(budget: int | None) -> str:
    """The metric's name for a budget: probe_100, or probe_all for every label."""
    return f"probe_{budget or 'all'}"


def keys(budgets) -> dict[str, str]:
    return {key(b): "higher" for b in budgets}


def summary(budget: int | None, accs: list[float]) -> dict[str, float]:
    """One budget's row: ``probe_<budget>`` (mean test accuracy over the draws) and its std."""
    return {key(budget): statistics.mean(accs),
            f"{key(budget)}_std": statistics.stdev(accs) if len(accs) > 1 else 0.0}


def scores(fit_x, fit_y, test_x, test_y, opts: MetricOptions) -> dict[str, float]:
    """The metric's protocol on any features: (N, F) fit pool and (M, F) test split."""
    out = {}
    for budget in opts.probe_budgets:
        fits = probe_one(fit_x, fit_y, test_x, test_y, budget, opts.probe_draws, opts.seed,
                         reuse_c=True, fit=ridge_fitter())
        out.update(summary(budget, [f.accuracy for f in fits]))
    return out


@register_metric("probe", needs=("discriminator", "reference_labels", "test_split"),
                 better=keys(BUDGETS),
                 meaning="linear probe of D's 4x4-max-pooled conv features (DCGAN §5.1): "
                 "least-squares linear classifier's test accuracy at 10, 100 and 400 labels "
                 "per class, mean over draws; higher is better")
def probe(j: Judged, opts: MetricOptions) -> dict:
    ref, test = j.reference, j.test_split
    if ref.labels is None or test.labels is None:
        raise DfmganError("metric 'probe' needs labelled data (its reference and test split)")
    D = copy.deepcopy(j.discriminator)  # pooled_features switches it to eval mode
    device = next(D.parameters()).device
    fit_x = pooled_features(D, ref.images, device=device)  # (N, F)
    test_x = pooled_features(D, test.images, device=device)  # (M, F)
    return scores(fit_x, ref.labels.cpu(), test_x, test.labels.cpu(), opts)
