"""Stacked data (1,000 modes) and the ``modes`` metric, against values worked out by hand."""
import math

import pytest
import torch
from conftest import TINY_FLAGS, run_cli
from formats import write_mnist

from dfmgan.data import load_dataset
from dfmgan.data.stacked import load_stacked, mode_of, stack
from dfmgan.errors import DataError, DfmganError
from dfmgan.evaluation.features import BundledNet, extract
from dfmgan.evaluation.registry import get_metric
from dfmgan.evaluation.stacked_modes import mode_histogram_scores


def test_each_channel_is_the_base_image_its_record_names():
    base = load_dataset("digits", size=28, channels=1)
    s = load_dataset("stacked-digits", size=28)
    assert s.images.shape == (10_000, 3, 28, 28) and s.members.shape == (10_000, 3)
    for i in (0, 1, 4321, 9999):
        for c in range(3):
            assert torch.equal(s.images[i, c], base.images[s.members[i, c], 0])
        a, b, c = (int(base.labels[s.members[i, k]]) for k in range(3))
        assert int(s.labels[i]) == 100 * a + 10 * b + c
    assert torch.equal(s.base_labels, base.labels[s.members])
    assert len(s.labels.unique()) == 1000  # every mode is present in 10k draws
    again = load_dataset("stacked-digits", size=28)
    assert torch.equal(again.images, s.images)  # a pure function of (base, split, seed)
    test = load_dataset("stacked-digits", split="test", size=28)
    assert len(test) == 2_600 and not torch.equal(test.members[:100], s.members[:100])


def test_stacked_from_official_idx_files(tmp_path):
    x, y = write_mnist(tmp_path, n=40)
    s = load_stacked(tmp_path, "train", None, None, base="mnist", sizes={"train": 500})
    assert s.images.shape == (500, 3, 28, 28)
    for i in (0, 123, 499):
        assert [int(y[m]) for m in s.members[i]] == s.base_labels[i].tolist()
        assert torch.equal(s.images[i, 2], torch.from_numpy(x[int(s.members[i, 2])]))
    assert torch.equal(s.labels, mode_of(s.base_labels))


def test_stacked_refuses_one_channel_and_unlabelled_bases():
    with pytest.raises(DataError, match="3 channels"):
        load_dataset("stacked-digits", channels=1)
    base = load_dataset("digits")
    base.labels = None
    with pytest.raises(DataError, match="grey and labelled"):
        stack(base, 10, 0, "x")


def test_mode_histogram_by_hand():
    modes = torch.tensor([7, 7, 7, 912])  # p = (3/4, 1/4) over two of 1,000 modes
    out = mode_histogram_scores(modes)
    assert out["modes"] == 2 and out["modes_max_share"] == 0.75
    assert out["modes_kl"] == pytest.approx(0.75 * math.log(750) + 0.25 * math.log(250))
    uniform = mode_histogram_scores(torch.arange(1000).repeat(3))
    assert uniform["modes"] == 1000 and uniform["modes_kl"] == pytest.approx(0.0, abs=1e-12)


def correctly_classified(net, images, labels) -> dict[int, torch.Tensor]:
    """One test image per class that the bundled digits net gets right."""
    pred = extract(net, images).logits.argmax(1)
    return {k: images[(pred == labels) & (labels == k)][0] for k in range(10)}


def test_modes_metric_on_triples_built_by_hand():
    test = load_dataset("digits", split="test", size=28, channels=1)
    pick = correctly_classified(BundledNet("digits"), test.images, test.labels)
    triples = [(0, 1, 2)] * 3 + [(3, 4, 5)] * 2 + [(9, 9, 9)]  # p = (1/2, 1/3, 1/6)
    images = torch.stack([torch.cat([pick[a], pick[b], pick[c]]) for a, b, c in triples])
    out = get_metric("modes")(images=images, data="stacked-digits")
    p = [1 / 2, 1 / 3, 1 / 6]
    assert out["modes"] == 3
    assert out["modes_kl"] == pytest.approx(sum(q * math.log(1000 * q) for q in p))


def test_modes_needs_stacked_data():
    with pytest.raises(DfmganError, match="stacked"):
        get_metric("modes")(images=torch.zeros(2, 3, 28, 28, dtype=torch.uint8), data="digits")
    with pytest.raises(DfmganError, match="train_feature_net mnist"):
        get_metric("modes")(images=torch.zeros(2, 3, 28, 28, dtype=torch.uint8), data="stacked-mnist")


@pytest.mark.slow
def test_stacked_trains_and_evaluates_everywhere(tmp_path):
    """Training with modes during training, `eval` (modes by default) and the report."""
    out = tmp_path / "run"
    r = run_cli("train", "--preset", "stacked-digits", "--out", str(out), "--steps", "4",
                "--eval-every", "2", "--set", "eval_n=300", *TINY_FLAGS)
    assert r.returncode == 0, r.stderr
    rows = [l for l in (out / "stats.jsonl").read_text().splitlines() if "eval/modes" in l]
    assert len(rows) == 2 and '"eval/best_modes_kl"' in rows[-1]
    assert (out / "best" / "best.json").exists()
    r = run_cli("eval", str(out), "--n", "300")
    assert r.returncode == 0, r.stderr
    assert "modes:" in r.stdout and "modes_kl:" in r.stdout
    r = run_cli("report", str(out))
    assert r.returncode == 0, r.stderr
    page = (out / "report.html").read_text()
    # a panel per number scored, titled by the metric's own record
    for title in ("modes during training (higher is better)", "modes_kl during training (lower is better)"):
        assert f'alt="{title} · eval_raw: the raw G beside an EMA"' in page


@pytest.mark.slow
def test_stacked_mnist_with_a_classifier_trained_here(tmp_path, monkeypatch):
    """The MNIST classifier is not bundled: `train_feature_net mnist` makes one from the
    official IDX files, and `modes` then scores stacked-mnist with it."""
    from dfmgan.evaluation import features
    from dfmgan.evaluation.train_feature_net import main

    write_mnist(tmp_path / "mnist", n=300)
    main(["mnist", "--data-root", str(tmp_path / "mnist"), "--out", str(tmp_path / "w"),
          "--epochs", "1"])
    assert (tmp_path / "w" / "mnist.safetensors").exists()
    monkeypatch.setattr(features, "WEIGHTS", tmp_path / "w")
    s = load_stacked(tmp_path / "mnist", "train", None, None, base="mnist", sizes={"train": 64})
    out = get_metric("modes")(images=s.images, data="stacked-mnist")
    # recounted by hand from the trained classifier's own answers, channel by channel
    from collections import Counter

    net = features.BundledNet("mnist")
    per_channel = [features.extract(net, s.images[:, c:c + 1]).logits.argmax(1).tolist()
                   for c in range(3)]
    counts = Counter(zip(*per_channel))
    n = sum(counts.values())
    assert n == 64 and out["modes"] == len(counts)
    assert out["modes_kl"] == pytest.approx(sum(k / n * math.log(k / n * 1000)
                                                for k in counts.values()), rel=1e-9)
    assert out["modes_max_share"] == max(counts.values()) / n


@pytest.mark.slow
def test_the_best_checkpoint_key_can_be_named(tmp_path):
    args = ["train", "--preset", "stacked-digits", "--steps", "2", "--eval-every", "2",
            "--set", "eval_n=300", *TINY_FLAGS]
    r = run_cli(*args, "--set", "eval_best=fid", "--out", str(tmp_path / "bad"))
    assert r.returncode == 2 and "eval_best 'fid' is not a key" in r.stderr, r.stderr
    r = run_cli(*args, "--set", "eval_best=modes_kl", "--out", str(tmp_path / "ok"))
    assert r.returncode == 0, r.stderr
    import json
    assert "modes_kl" in json.loads((tmp_path / "ok" / "best" / "best.json").read_text())
