"""Metric values against numbers computed by hand."""
import math

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm

from dfmgan.evaluation.classifier import SmallClassifier, prepare
from dfmgan.evaluation.features import FeatureNet, Features, extract
from dfmgan.evaluation.registry import MetricOptions, get_metric

OPTS = MetricOptions()


def feats(x, logits=None):
    return Features(torch.as_tensor(x, dtype=torch.float64), logits)


def fid_by_hand(a: np.ndarray, b: np.ndarray) -> float:
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = sqrtm(sqrtm(s1) @ s2 @ sqrtm(s1)).real
    return float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def test_fid_of_a_set_against_itself_is_zero():
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    assert abs(get_metric("fid")(OPTS, gen=feats(x), real=feats(x))["fid"]) < 1e-6


def test_fid_between_two_gaussians_is_the_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = np.array([0.0, 1, 2, 3]), np.array([1.0, 1, 0, 3])
    sd1, sd2 = np.array([1.0, 2, 0.5, 1]), np.array([1.0, 1, 1, 3])
    a = mu1 + sd1 * rng.standard_normal((20000, 4))
    b = mu2 + sd2 * rng.standard_normal((20000, 4))
    got = get_metric("fid")(OPTS, gen=feats(b), real=feats(a))["fid"]
    assert got == pytest.approx(fid_by_hand(a, b), rel=1e-6)  # same sample statistics
    population = ((mu1 - mu2) ** 2).sum() + ((sd1 - sd2) ** 2).sum()  # diagonal Σ: Σ(σ1-σ2)²
    assert got == pytest.approx(population, rel=0.03)


def test_inception_score_of_uniform_predictions_is_one():
    r = get_metric("is")(OPTS, gen=feats(torch.zeros(100, 3), torch.zeros(100, 10)))
    assert r["is"] == pytest.approx(1.0) and r["is_std"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.filterwarnings("ignore:std\\(\\)")  # one group has no std: expected
def test_inception_score_of_balanced_confident_predictions_is_k():
    logits = 50.0 * torch.eye(10).repeat(30, 1).double()  # 30 confident samples per class
    r = get_metric("is")(MetricOptions(splits=1), gen=feats(torch.zeros(300, 3), logits))
    assert r["is"] == pytest.approx(10.0, rel=1e-6)


def test_kid_is_zero_for_two_samples_of_one_distribution():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(2000, 16, generator=g), torch.randn(2000, 16, generator=g)
    r = get_metric("kid")(OPTS, gen=feats(a), real=feats(b))
    assert abs(r["kid"]) < 2e-3
    far = get_metric("kid")(OPTS, gen=feats(a + 1), real=feats(b))["kid"]
    assert far > 50 * abs(r["kid"])


def test_precision_recall_by_hand():
    real = feats([[0.0], [1.0], [2.0], [3.0]])  # k = 1: every real radius is 1
    gen = feats([[0.5], [10.0]])  # gen radii 9.5: every real point is inside one
    r = get_metric("pr")(MetricOptions(k=1), gen=gen, real=real)
    assert r == {"precision": 0.5, "recall": 1.0}


def test_class_coverage_by_hand():
    logits = torch.zeros(4, 4, dtype=torch.float64)
    logits[[0, 1, 2, 3], [0, 0, 1, 1]] = 1  # two classes, two samples each
    r = get_metric("coverage")(OPTS, gen=feats(torch.zeros(4, 1), logits))
    assert r["class_histogram"] == [2, 2, 0, 0]
    assert r["class_entropy"] == pytest.approx(math.log(2) / math.log(4))


class RandomNet(FeatureNet):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = SmallClassifier().eval()
        self.name = "random"

    def prepare(self, images):
        return prepare(images, self.net.size)

    def forward(self, x):
        return self.net(x)


def test_our_path_equals_torchmetrics_on_images():
    """Our extract-once path and torchmetrics running the same net on the images agree."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    net = RandomNet()

    class Pool(torch.nn.Module):  # torchmetrics' view: uint8 images -> (N, F)
        num_features = 128

        def forward(self, imgs):
            return net(net.prepare(imgs))[0].double()

    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (300, 1, 28, 28), dtype=torch.uint8, generator=g)
    fake = (real.float() * 0.7).to(torch.uint8)
    tm = FrechetInceptionDistance(feature=Pool())
    tm.update(real, real=True)
    tm.update(fake, real=False)
    ours = get_metric("fid")(OPTS, gen=extract(net, fake, batch=64), real=extract(net, real, batch=64))
    assert ours["fid"] == pytest.approx(float(tm.compute()), rel=1e-6)


def test_unknown_metric():
    from dfmgan.errors import DfmganError

    with pytest.raises(DfmganError, match="unknown metric"):
        get_metric("bogus")
