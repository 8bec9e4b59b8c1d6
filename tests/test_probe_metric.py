"""``probe``, D's features as a metric (DCGAN §5.1): exact on hand-built features, in
`eval` on a run's D, and during training, where it leaves D and the run's weights as they
would be without it and lands in stats.jsonl as eval/probe_* rows the study report reads."""
import json
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st
import torch
from torch import nn

from conftest import TINY_FLAGS, run_cli
from dfmgan.checkpoint import load_latest_state
from dfmgan.evaluation.registry import Labelled, MetricOptions, get_metric
from dfmgan.evaluation.sources import Reference
from dfmgan.training import train


class PixelsD(nn.Module):
    """A 'discriminator' whose only block is the image: 4×4 max-pooling of a 4×4 image is
    the image itself, so the probe sees the pixels."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def features(self, x):
        return SimpleNamespace(blocks=[x])


def one_hot_images(labels: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 1, 4, 4): class c lights pixel c (of 16), on a dark image."""
    x = torch.zeros(len(labels), 16, dtype=torch.uint8)
    x[torch.arange(len(labels)), labels] = 255
    return x.view(-1, 1, 4, 4)


def separable_case():
    """(fit pool, test split): 4 classes, 30 labelled one-hot images each, and 20 test
    images of which 3 carry a wrong label, so a perfect classifier scores exactly 17/20."""
    fit_labels = torch.arange(4).repeat(30)
    test_true = torch.arange(4).repeat(5)
    test_labels = test_true.clone()
    test_labels[[0, 5, 9]] = (test_true[[0, 5, 9]] + 1) % 4
    return (Reference(None, one_hot_images(fit_labels), fit_labels, {}),
            Labelled(one_hot_images(test_true), test_labels))


def test_probe_on_separable_features_scores_exactly_by_hand():
    # 4 classes, 30 labelled images each: any budget separates them perfectly. The test
    # split has 20 images, 3 of them carrying a wrong label: accuracy is exactly 17/20
    ref, test = separable_case()
    out = get_metric("probe")(MetricOptions(probe_budgets=(1, 10), probe_draws=3),
                              discriminator=PixelsD(), reference=ref, test_split=test)
    assert out == {"probe_1": 0.85, "probe_1_std": 0.0, "probe_10": 0.85, "probe_10_std": 0.0}


def test_the_all_labels_budget_fits_once_on_every_label_of_the_pool(monkeypatch):
    """Budget None (``probe_all``): one fit on all 120 labelled images; counts per class fit
    ``draws`` times on 4 x count. The same hand-computed 17/20 as above."""
    from dfmgan.evaluation import probe as probe_module

    real, rows = probe_module.ridge_fitter, []

    def spying():
        fit = real()

        def recorded(x, y, seed, c):
            rows.append(len(y))
            return fit(x, y, seed, c)
        return recorded

    monkeypatch.setattr(probe_module, "ridge_fitter", spying)
    ref, test = separable_case()
    out = get_metric("probe")(MetricOptions(probe_budgets=(None, 5), probe_draws=3),
                              discriminator=PixelsD(), reference=ref, test_split=test)
    assert out == {"probe_all": 0.85, "probe_all_std": 0.0, "probe_5": 0.85, "probe_5_std": 0.0}
    assert rows == [120, 20, 20, 20]


@pytest.mark.slow
def test_probe_in_eval_on_a_runs_discriminator(tmp_path):
    out = tmp_path / "run"
    r = run_cli("train", "--preset", "digits", "--out", str(out), "--steps", "3", *TINY_FLAGS)
    assert r.returncode == 0, r.stderr
    r = run_cli("eval", str(out), "--metrics", "probe", "--n-real", "400")
    assert r.returncode == 0, r.stderr
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    for b in (10, 100, 400):
        assert 0.1 < row[f"probe_{b}"] <= 1 and row[f"probe_{b}_std"] >= 0
    assert row["provenance"]["metrics"] == ["probe"]
    # a set of images has no D: refused in one line, before any work
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((4, 28, 28, 1), np.uint8))
    r = run_cli("eval", str(tmp_path / "x.npy"), "--data", "digits", "--metrics", "probe")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "discriminator" in r.stderr


@pytest.mark.slow
def test_probe_during_training_leaves_the_run_as_it_would_be(tmp_path, tiny_cfg):
    """eval/probe_* every 2 steps (EMA and raw G share one D, so one score), read by the
    study report; the final weights equal those of the same run scored by nothing."""
    from dfmgan.tools.study_report import run_curves
    from dfmgan.training.stats import read_stats

    plain = tiny_cfg(steps=4, ema=1000)
    probed = tiny_cfg(steps=4, ema=1000, eval_every=2, eval_n=300, eval_metrics="probe")
    train(plain, tmp_path / "a", progress=False)
    train(probed, tmp_path / "b", progress=False)
    a, b = load_latest_state(tmp_path / "a"), load_latest_state(tmp_path / "b")
    for net in a["objective"]["modules"]:
        for k, v in a["objective"]["modules"][net].items():
            assert torch.equal(v, b["objective"]["modules"][net][k]), (net, k)
    rows = [r for r in read_stats(tmp_path / "b" / "stats.jsonl") if "eval/probe_10" in r]
    assert [r["step"] for r in rows] == [2, 4]
    assert all(r["eval/probe_10"] == r["eval_raw/probe_10"] for r in rows)
    curves = run_curves(read_stats(tmp_path / "b" / "stats.jsonl"))
    assert set(curves[""]["probe_400"]) == {2, 4}


@settings(max_examples=25, deadline=None)
@given(n=st.integers(6, 40), d=st.integers(2, 40), k=st.integers(2, 4),
       alpha=st.sampled_from([1e-2, 1.0, 1e2, 1e4]), seed=st.integers(0, 99))
def test_ridge_is_scikit_learns_ridge_in_both_forms(n, d, k, alpha, seed):
    """The metric's classifier: the weights and bias of scikit-learn's ``Ridge`` on ±1
    targets, whether it solves the dual (n ≤ d) or the primal (n > d)."""
    import numpy as np
    from sklearn.linear_model import Ridge as SkRidge

    from dfmgan.evaluation.ridge import Ridge, Standardised, targets

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * 3 + 1
    y = torch.arange(n) % k
    scale = Standardised.of(x)
    xs = scale(x)
    ours = Ridge(xs, y)
    assert ours.dual == (n <= d)
    clf = ours.classifier(alpha)
    sk = SkRidge(alpha=alpha, solver="cholesky").fit(xs.numpy(), targets(y, y.unique()).numpy())
    np.testing.assert_allclose(clf.w.numpy(), sk.coef_.T, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(clf.b.numpy(), sk.intercept_, rtol=1e-5, atol=1e-5)
    pred = y.unique()[torch.as_tensor(sk.predict(xs.numpy())).argmax(1)]
    agree = (clf.predict(xs) == pred).double().mean()
    assert agree >= 0.95  # float32 products: a near-tie may fall either way


@pytest.mark.slow
def test_probe_transfers_a_d_to_another_labelled_set(tmp_path):
    """--data probes a run's D on another set (the paper's ImageNet -> CIFAR-10 transfer):
    a digits D scored on Fashion-MNIST's pool and test split, the row naming that data."""
    from conftest import FASHION

    if not FASHION.is_dir():
        pytest.skip("needs Debian's dataset-fashion-mnist")
    out = tmp_path / "run"
    r = run_cli("train", "--preset", "digits", "--out", str(out), "--steps", "3", *TINY_FLAGS)
    assert r.returncode == 0, r.stderr
    r = run_cli("eval", str(out), "--metrics", "probe", "--data", "fashion-mnist",
                "--n-real", "400")
    assert r.returncode == 0, r.stderr
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert "fashion-mnist" in row["provenance"]["reference"]
    assert all(0.1 < row[f"probe_{b}"] <= 1 for b in (10, 100, 400))
