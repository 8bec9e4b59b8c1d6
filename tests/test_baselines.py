"""The probe metric's baselines (issue 28): cached once per data and settings and rebuilt
when any of them changes, never trusted when damaged; the supervised CNN trains on the
labelled draw alone; K is D's size where it should be; `dfmgan baselines` end to end."""
import json

import pytest
import torch
from hypothesis import given, settings, strategies as st

from conftest import run_cli, tiny_run
from dfmgan.evaluation.linear_probe import per_class
from dfmgan.evaluation.probe import key
from dfmgan.evaluation.registry import Labelled, MetricOptions
from dfmgan.models import NetConfig
from dfmgan.tools import baselines, supervised
from dfmgan.tools.baselines import BASELINES, Inputs, baseline, baseline_scores

CALLS = []


@pytest.fixture(autouse=True, scope="module")
def counting_baseline():
    """A baseline that counts its runs, registered for this module only."""
    @baseline("zz-count", "counts its runs (tests only)", lambda i: {"width": i.cfg.d_width})
    def counting(i: Inputs) -> dict:
        CALLS.append(1)
        return {key(b) + x: 0.5 for b in i.opts.probe_budgets for x in ("", "_std")}
    yield
    BASELINES.pop("zz-count")


def inputs(**change) -> Inputs:
    g = torch.Generator().manual_seed(0)
    pool = Labelled(torch.randint(0, 256, (40, 1, 32, 32), generator=g, dtype=torch.uint8),
                    torch.arange(4).repeat(10))
    test = Labelled(torch.randint(0, 256, (12, 1, 32, 32), generator=g, dtype=torch.uint8),
                    torch.arange(4).repeat(3))
    i = Inputs("digits", pool, test, NetConfig(size=32, channels=1, d_width=8),
               MetricOptions(probe_budgets=(2, 5), probe_draws=2))
    for name, fn in change.items():
        fn(i)
    return i


def set_pixel(i):
    i.pool.images[7, 0, 3, 3] ^= 1


def set_label(i):
    i.pool.labels[5] = (i.pool.labels[5] + 1) % 4


def set_test(i):
    i.test.images[0, 0, 0, 0] ^= 1


CHANGES = {
    "data": lambda i: setattr(i, "data", "mnist"),
    "pool pixel": set_pixel,
    "pool label": set_label,
    "test pixel": set_test,
    "budgets": lambda i: setattr(i.opts, "probe_budgets", (2, 6)),
    "draws": lambda i: setattr(i.opts, "probe_draws", 3),
    "seed": lambda i: setattr(i.opts, "seed", 1),
    "settings": lambda i: setattr(i, "cfg", NetConfig(size=32, channels=1, d_width=16)),
}


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(sorted(CHANGES)))
def test_a_cached_baseline_is_reused_until_a_fact_changes(tmp_path_factory, change):
    import os

    os.environ["DFMGAN_DATA"] = str(tmp_path_factory.mktemp("cache"))
    try:
        CALLS.clear()
        first, hit = baseline_scores("zz-count", inputs())
        again, hit2 = baseline_scores("zz-count", inputs())
        assert (hit, hit2, len(CALLS), again) == (False, True, 1, first)
        _, hit3 = baseline_scores("zz-count", inputs(x=CHANGES[change]))
        assert (hit3, len(CALLS)) == (False, 2), change
        _, hit4 = baseline_scores("zz-count", inputs())  # the first entry is still there
        assert (hit4, len(CALLS)) == (True, 2)
    finally:
        del os.environ["DFMGAN_DATA"]


@pytest.mark.parametrize("damage", ["truncated", "not json", "other key", "bad score",
                                    "missing score", "empty"])
def test_a_damaged_or_foreign_entry_is_rebuilt(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("DFMGAN_DATA", str(tmp_path))
    CALLS.clear()
    baseline_scores("zz-count", inputs())
    path = next((tmp_path / "baselines").glob("zz-count-*.json"))
    entry = json.loads(path.read_text())
    text = {"truncated": path.read_text()[:-9], "not json": "\x00\x01",
            "other key": json.dumps({**entry, "key": {**entry["key"], "seed": 9}}),
            "bad score": json.dumps({**entry, "scores": {**entry["scores"], "probe_2": 7.0}}),
            "missing score": json.dumps({**entry, "scores": {"probe_2": 0.5}}),
            "empty": ""}[damage]
    path.write_text(text)
    s, hit = baseline_scores("zz-count", inputs())
    assert (hit, len(CALLS), s["probe_2"]) == (False, 2, 0.5)
    assert json.loads(path.read_text())["key"] == entry["key"]  # replaced by a whole entry


def test_kmeans_at_ds_size_by_hand():
    # width 32 at 32 px: blocks of 32, 64 and 128 channels, each pooled to 4×4:
    # (32 + 64 + 128) · 16 = 3,584 features = 4K  ->  K = 896
    i = inputs()
    i.cfg = NetConfig(size=32, channels=1, d_width=32)
    assert baselines.d_k(i) == 896
    assert BASELINES["kmeans-dim"].settings(i) == {"k": 896}
    assert BASELINES["kmeans-best"].settings(i) == {"ks": [100, 400, 896, 1600]}


def test_supervised_sees_only_the_labelled_draw(monkeypatch):
    """Every image the CNN is trained or validated on is one of the draw's, with the draw's
    label, and together they are the whole draw: no label beyond it."""
    pool_n = 60
    labels = torch.arange(3).repeat(20)
    images = torch.zeros(pool_n, 1, 32, 32, dtype=torch.uint8)
    images.view(pool_n, -1)[:, :2] = torch.stack([torch.arange(pool_n) // 256,
                                                   torch.arange(pool_n) % 256], 1).to(torch.uint8)

    def index(img):  # the pool index each image carries in its first two pixels
        flat = img.view(len(img), -1).long()
        return (flat[:, 0] * 256 + flat[:, 1]).tolist()

    seen = []
    real_train = supervised.train

    def spy(cfg, train_set, val, n_classes, trial, seed):
        got = index(train_set.images) + (index(val.images) if val is not None else [])
        got_labels = train_set.labels.tolist() + (val.labels.tolist() if val is not None else [])
        assert all(labels[j] == y for j, y in zip(got, got_labels))
        seen.append((seed, set(got), len(got)))
        return real_train(cfg, train_set, val, n_classes, trial, seed)

    monkeypatch.setattr(supervised, "train", spy)
    monkeypatch.setattr(supervised, "STEPS", 2)
    monkeypatch.setattr(supervised, "CHECK_EVERY", 1)
    opts = MetricOptions(probe_budgets=(7,), probe_draws=2)
    test = Labelled(images[:9], labels[:9])
    out = supervised.supervised_scores(Labelled(images, labels), test,
                                       NetConfig(size=32, channels=1, d_width=4), opts, trials=2)
    assert set(out) == {"probe_7", "probe_7_std"}
    for d in range(2):
        draw = set(per_class(labels, 7, torch.Generator().manual_seed(d)).tolist())
        calls = [s for s in seen if s[0] == d]
        assert calls and all(got == draw and n == 21 for _, got, n in calls)
    assert len(seen) == 2 + 1  # two trials on the first draw, the winner on the second


def test_supervised_at_all_labels_trains_once_on_the_whole_pool(monkeypatch):
    seen = []
    real_train = supervised.train

    def spy(cfg, train_set, val, n_classes, trial, seed):
        seen.append(len(train_set.labels) + (len(val.labels) if val is not None else 0))
        return real_train(cfg, train_set, val, n_classes, trial, seed)

    monkeypatch.setattr(supervised, "train", spy)
    monkeypatch.setattr(supervised, "STEPS", 2)
    monkeypatch.setattr(supervised, "CHECK_EVERY", 1)
    labels = torch.arange(3).repeat(11)
    images = torch.randint(0, 256, (33, 1, 32, 32), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    opts = MetricOptions(probe_budgets=(None,), probe_draws=4)
    out = supervised.supervised_scores(Labelled(images, labels), Labelled(images, labels),
                                       NetConfig(size=32, channels=1, d_width=4), opts, trials=2)
    assert set(out) == {"probe_all", "probe_all_std"} and out["probe_all_std"] == 0.0
    assert seen == [33, 33]  # two trials, one draw: the whole pool, nothing more


def test_supervised_learns_a_separable_set(monkeypatch):
    monkeypatch.setattr(supervised, "STEPS", 60)
    monkeypatch.setattr(supervised, "CHECK_EVERY", 20)
    labels = torch.arange(2).repeat(30)
    images = (labels * 255).to(torch.uint8)[:, None, None, None].expand(-1, 1, 32, 32).contiguous()
    opts = MetricOptions(probe_budgets=(10,), probe_draws=1)
    out = supervised.supervised_scores(Labelled(images, labels), Labelled(images, labels),
                                       NetConfig(size=32, channels=1, d_width=4), opts, trials=1)
    assert out == {"probe_10": 1.0, "probe_10_std": 0.0}


def test_the_supervised_schedule_by_hand():
    # 10 to 400 labels a class: the 600-step floor, checked every 50; all 60,000 labels
    # (48,000 after the 20% validation split): 10 epochs, 7,500 steps, 12 checks of 625
    assert supervised.schedule(80) == (600, 50)
    assert supervised.schedule(3200) == (600, 50)
    assert supervised.schedule(48000) == (7500, 625)
    assert supervised.schedule(3841) == (601, 50)  # ceil(38,410 / 64)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10 ** 6))
def test_the_supervised_schedule_is_the_floor_or_ten_epochs_exactly(n):
    steps, every = supervised.schedule(n)
    b, e = supervised.BATCH, supervised.MIN_EPOCHS
    assert steps >= supervised.STEPS and steps * b >= e * n
    assert steps == supervised.STEPS or (steps - 1) * b < e * n  # no step more than needed
    assert every >= supervised.CHECK_EVERY and steps // every <= supervised.CHECKS + 1


def test_a_supervised_trial_trains_and_checks_on_its_schedule(monkeypatch):
    checks, steps = [], []
    monkeypatch.setattr(supervised, "STEPS", 8)
    monkeypatch.setattr(supervised, "CHECK_EVERY", 2)
    monkeypatch.setattr(supervised, "MIN_EPOCHS", 4)
    monkeypatch.setattr(supervised, "BATCH", 4)
    monkeypatch.setattr(supervised, "CHECKS", 3)
    real_step = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, *a: steps.append(1) or real_step(self, *a))
    monkeypatch.setattr(supervised, "accuracy", lambda *a, **k: checks.append(1) or 0.5)
    images = torch.zeros(12, 1, 32, 32, dtype=torch.uint8)
    labels = torch.arange(2).repeat(6)
    data = Labelled(images, labels)
    supervised.train(NetConfig(size=32, channels=1, d_width=4), data, data, 2,
                     supervised.DEFAULT, 0)
    # 4 epochs of 12 images at batch 4: 12 steps (> the floor of 8); every max(2, 12 // 3) = 4
    assert (len(steps), len(checks)) == (12, 3)


def test_the_supervised_cache_key_holds_its_schedule(monkeypatch):
    i = inputs()
    before = BASELINES["supervised"].settings(i)
    assert before["min_epochs"] == supervised.MIN_EPOCHS and before["d_width"] == 8
    monkeypatch.setattr(supervised, "MIN_EPOCHS", 20)
    after = BASELINES["supervised"].settings(i)
    assert after != before
    assert baselines.entry_path("supervised", baselines.facts("supervised", i)) != \
        baselines.entry_path("supervised", {**baselines.facts("supervised", i), "settings": before})


@pytest.mark.slow
def test_baselines_command_writes_rows_and_reuses_its_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DFMGAN_DATA", str(tmp_path / "cache"))
    run = tiny_run(tmp_path / "run")
    args = ("baselines", str(run), "--baselines", "pixels,random-d", "--n-real", "400")
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    rows = json.loads((run / "baselines.json").read_text())["rows"]
    assert [r["features"] for r in rows] == ["D (this run)", "pixels", "random-d"]
    assert [r["cached"] for r in rows] == [False, False, False]
    for row in rows:
        assert all(0 < row[f"probe_{b}"] <= 1 for b in (10, 100, 400))
    r = run_cli(*args)
    again = json.loads((run / "baselines.json").read_text())["rows"]
    assert [r["cached"] for r in again] == [False, True, True]
    assert [r["probe_100"] for r in again] == [r["probe_100"] for r in rows]
    # every label of the whole training split (digits: 1,437 images), the paper's "all"
    r = run_cli("baselines", str(run), "--baselines", "pixels", "--labels", "10,all",
                "--n-real", "all", "--out", str(tmp_path / "all.json"))
    assert r.returncode == 0, r.stderr
    record = json.loads((tmp_path / "all.json").read_text())
    assert record["pool_n"] == 1797 - 360 and "all labels" in r.stdout
    assert all(0 < row["probe_all"] <= 1 and row["probe_all_std"] == 0 for row in record["rows"])
    r = run_cli("baselines", str(run), "--baselines", "pixels,kmeans")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "kmeans" in r.stderr


def test_the_study_plot_draws_a_baselines_file_as_lines(tmp_path):
    import numpy as np
    from PIL import Image

    from dfmgan.tools.study_report import plot, reference_lines

    rows = [{"features": "D (this run)", "probe_100": 0.9, "probe_100_std": 0.0},
            {"features": "pixels", "probe_100": 0.78, "probe_100_std": 0.01, "cached": True},
            {"features": "kmeans-best", "k": 400, "probe_100": 0.83, "probe_100_std": 0.01}]
    (tmp_path / "baselines.json").write_text(json.dumps({"rows": rows}))
    lines = reference_lines(tmp_path / "baselines.json")
    assert lines == {"probe_100": [("pixels", 0.78), ("kmeans-best K=400", 0.83)]}
    for bad in ("", "[]", '{"rows": 3}', '{"rows": [4, {"features": "x", "probe_1": "a"}]}'):
        (tmp_path / "bad.json").write_text(bad)
        assert reference_lines(tmp_path / "bad.json") == {}
    assert reference_lines(tmp_path / "absent.json") == {}
    curve = {"step": [1000, 2000], "mean": [0.7, 0.8], "std": [0.01, 0.01], "n": [1, 1]}
    series = {"gan": {"batch": 128, "seeds": [0], "grad_ratio": [],
                      "curves": {"probe_100": curve}}}
    plot(series, tmp_path / "with.png", lines)
    plot(series, tmp_path / "without.png")
    a, b = (np.asarray(Image.open(tmp_path / f"{n}.png").convert("L")) for n in ("with", "without"))
    assert a.shape == b.shape and (a != b).sum() > 100


def test_kmeans_best_reports_its_k_and_that_ks_scores(monkeypatch):
    """The K chosen is one of the grid (and D's), and the scores are the probe's on that
    K's features, computed afresh the long way."""
    monkeypatch.setattr(baselines, "KS", (4, 8))
    i = inputs()
    i.cfg = NetConfig(size=32, channels=1, d_width=1)  # 4K = (1 + 2 + 4) · 16  ->  K = 28
    got = baselines.kmeans_best(i)
    assert got["k"] in (4, 8, 28)
    assert {k: v for k, v in got.items() if k != "k"} == baselines.on(baselines.kmeans_at(got["k"], i), i)


@pytest.mark.parametrize("flag, value", [("--labels", "0"), ("--labels", "ten"), ("--labels", ","),
                                         ("--n-real", "some"), ("--n-real", "3")])
def test_baselines_bad_budget_flags_are_one_line(tmp_path, flag, value):
    r = run_cli("baselines", str(tmp_path / "absent"), flag, value)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and flag in r.stderr, r.stderr
