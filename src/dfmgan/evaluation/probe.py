"""``probe``: how good are D's features? DCGAN §5.1 as a metric, cheap enough to track
during training.

D's conv blocks, max-pooled to 4×4 and concatenated (``linear_probe.pooled_features``), on
the reference's labelled real images (the fit pool) and on the real test split; for each
label budget (``MetricOptions.probe_budgets`` per class, default 10, 100 and 400), the
L2-SVM of ``dfmgan probe`` is fitted on ``probe_draws`` draws from the pool and scored on
the test split. To be cheap enough for every evaluation it differs from ``dfmgan probe``
in three ways: C is chosen from ``C_GRID`` on a validation split of the first draw only and
kept for the others, and every fit is the L-BFGS solver of the same model (``l2svm.TorchL2SVM``, which
a test holds to LinearSVC's accuracy), since liblinear took ~50 s a fit at 400 labels per
class on one thread here. It reports
``probe_<budget>`` (mean test accuracy) and ``probe_<budget>_std`` (over the draws).

It reads D, not G: during training it is computed once per evaluation, and D is copied
first, so the run's D (its BatchNorm mode, its buffers) is left as it was."""
from __future__ import annotations

import copy
import statistics

from ..errors import DfmganError
from .linear_probe import pooled_features, probe_one
from .registry import Judged, MetricOptions, register_metric

BUDGETS = (10, 100, 400)  # labels per class: the DCGAN paper's 400, and fewer
# the strong-regularisation end of dfmgan probe's grid: on a fresh width-32 D's features of
# Fashion-MNIST the full grid chose C <= 1e-3 at every budget (the same accuracies as
# this grid), and the larger C values are the slow fits
C_GRID = (1e-4, 1e-3, 1e-2)


def keys(budgets) -> dict[str, str]:
    return {f"probe_{b}": "higher" for b in budgets}


@register_metric("probe", needs=("discriminator", "reference_labels", "test_split"),
                 better=keys(BUDGETS),
                 meaning="linear probe of D's 4x4-max-pooled conv features (DCGAN §5.1): "
                 "L2-SVM test accuracy at 10, 100 and 400 labels per class, mean over draws; "
                 "higher is better")
def probe(j: Judged, opts: MetricOptions) -> dict:
    ref, test = j.reference, j.test_split
    if ref.labels is None or test.labels is None:
        raise DfmganError("metric 'probe' needs labelled data (its reference and test split)")
    D = copy.deepcopy(j.discriminator)  # pooled_features switches it to eval mode
    device = next(D.parameters()).device
    fit_x = pooled_features(D, ref.images, device=device)  # (N, F)
    test_x = pooled_features(D, test.images, device=device)  # (M, F)
    out = {}
    for budget in opts.probe_budgets:
        fits = probe_one(fit_x, ref.labels.cpu(), test_x, test.labels.cpu(), budget,
                         opts.probe_draws, opts.seed, reuse_c=True, liblinear_max=0,
                         grid=C_GRID)
        accs = [f.accuracy for f in fits]
        out[f"probe_{budget}"] = statistics.mean(accs)
        out[f"probe_{budget}_std"] = statistics.stdev(accs) if len(accs) > 1 else 0.0
    return out
