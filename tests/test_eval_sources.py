"""`eval` on what `sample` writes and on folders, references from files and from saved
statistics (evaluation/sources.py), and the `reference` command."""
import json

import numpy as np
import pytest
import torch
from conftest import run_cli, tiny_run
from hypothesis import given, settings
from hypothesis import strategies as st

from dfmgan.errors import DfmganError
from dfmgan.evaluation.api import evaluate, save_reference
from dfmgan.evaluation.sources import as_nchw, load_images, load_statistics

METRICS = ["fid", "kid", "pr", "is"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("sources") / "run")


def scores(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "provenance"}


def test_eval_of_an_npz_sampled_from_a_run_equals_eval_of_the_run(run, tmp_path):
    r = run_cli("sample", str(run), "--n", "120", "--seed", "4", "--out", str(tmp_path / "s.npz"))
    assert r.returncode == 0, r.stderr
    of_run = evaluate(run, METRICS, n=120, seed=4, opts=None)
    of_npz = evaluate(tmp_path / "s.npz", METRICS, data="digits", n=10_000, seed=4)
    assert scores(of_npz) == scores(of_run)
    assert of_npz["provenance"]["n_gen"] == of_npz["provenance"]["n_real"] == 120


def test_eval_of_a_folder_of_pngs_equals_eval_of_the_run(run, tmp_path):
    r = run_cli("sample", str(run), "--n", "50", "--out", str(tmp_path / "pngs"))
    assert r.returncode == 0, r.stderr
    assert scores(evaluate(tmp_path / "pngs", ["fid", "pr"], data="digits")) == \
        scores(evaluate(run, ["fid", "pr"], n=50))


def test_reused_statistics_equal_recomputing_them(run, tmp_path):
    stats = tmp_path / "ref.safetensors"
    prov = save_reference("digits", stats, 28, 1, n=200, seed=3)
    assert prov["n"] == 200 and prov["feature_net"] == "bundled:digits" and prov["size"] == 28
    fresh = evaluate(run, METRICS, n=200, seed=3)
    reused = evaluate(run, METRICS, n=200, seed=3, reference=stats)
    assert scores(reused) == scores(fresh)
    assert "statistics" in reused["provenance"]["reference"]
    feats, meta = load_statistics(stats)
    assert feats.pool.shape == (200, 128) and meta["feature_net_sha256"] == prov["feature_net_sha256"]


def test_two_image_sets_compare_with_each_other(run, tmp_path):
    for name, seed in (("a.npz", 0), ("b.npz", 1)):
        assert run_cli("sample", str(run), "--n", "64", "--seed", str(seed), "--out",
                       str(tmp_path / name)).returncode == 0
    row = evaluate(tmp_path / "a.npz", ["fid"], reference=tmp_path / "b.npz", feature_net="digits")
    same = evaluate(tmp_path / "a.npz", ["fid"], reference=tmp_path / "a.npz", feature_net="digits")
    assert row["fid"] > 0 and abs(same["fid"]) < 1e-6


@pytest.mark.parametrize("other", ["net", "size"])
def test_statistics_from_another_net_or_size_are_refused(run, tmp_path, other):
    stats = tmp_path / "ref.safetensors"
    if other == "net":
        save_reference("digits", stats, 28, 1, n=50, feature_net="fashion-mnist")
    else:
        save_reference("digits", stats, 32, 1, n=50)
    with pytest.raises(DfmganError) as e:
        evaluate(run, ["fid"], n=50, reference=stats)
    assert ("feature net" in str(e.value)) if other == "net" else ("32 px" in str(e.value))


def test_the_cli_writes_no_file_beside_an_image_set_unless_asked(run, tmp_path):
    assert run_cli("sample", str(run), "--n", "40", "--out", str(tmp_path / "s.npz")).returncode == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    r = run_cli("eval", str(tmp_path / "s.npz"), "--data", "digits", "--metrics", "fid",
                "--no-progress")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before and "not saved" in r.stdout
    r = run_cli("reference", "digits", "--n", "40", "--out", str(tmp_path / "d.safetensors"),
                "--no-progress")
    assert r.returncode == 0 and "28 px" in r.stdout, r.stderr
    r = run_cli("eval", str(tmp_path / "s.npz"), "--ref", str(tmp_path / "d.safetensors"),
                "--data", "digits", "--metrics", "fid", "--out", str(tmp_path / "m.jsonl"),
                "--no-progress")
    assert r.returncode == 0, r.stderr
    row = json.loads((tmp_path / "m.jsonl").read_text())
    assert row["provenance"]["n_real"] == 40 and "s.npz" in row["provenance"]["source"]


@pytest.mark.parametrize("bad", ["float", "one", "shape", "text", "keys", "missing", "not-stats"])
def test_a_bad_image_file_is_one_line(tmp_path, bad):
    p = tmp_path / ("x.npy" if bad in ("float", "one", "shape") else "x.npz")
    if bad == "float":
        np.save(p, np.zeros((4, 8, 8, 3), np.float32))
    elif bad == "one":
        np.save(p, np.zeros((1, 8, 8, 3), np.uint8))
    elif bad == "shape":
        np.save(p, np.zeros((4, 8, 6, 3), np.uint8))
    elif bad == "text":
        p.write_text("hello")
    elif bad == "keys":
        np.savez(p, a=np.zeros(3), b=np.zeros(3))
    elif bad == "not-stats":
        p = tmp_path / "x.safetensors"
        from safetensors.numpy import save_file
        save_file({"w": np.zeros(3, np.float32)}, str(p))
    target = ["eval", str(tmp_path / "none.npz")] if bad == "missing" else ["eval", str(p)]
    if bad == "not-stats":
        target = ["eval", str(tmp_path / "ok.npz"), "--ref", str(p), "--feature-net", "digits"]
        np.savez(tmp_path / "ok.npz", images=np.zeros((4, 28, 28, 1), np.uint8))
    r = run_cli(*target, "--data", "digits", "--metrics", "fid", "--no-progress")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 5), size=st.integers(1, 9), c=st.sampled_from([1, 3]),
       layout=st.sampled_from(["nhwc", "nchw", "nhw"]))
def test_any_uint8_layout_reads_as_nchw(n, size, c, layout):
    x = np.random.default_rng(0).integers(0, 256, (n, c, size, size), dtype=np.uint8)
    arr = {"nchw": x, "nhwc": x.transpose(0, 2, 3, 1), "nhw": x[:, 0]}[layout]
    got = as_nchw(arr, "x")
    want = x if layout != "nhw" else x[:, :1]
    if layout == "nchw" and size == c:  # (N, 3, 3, 3) reads either way; NHWC wins
        assert torch.equal(got, torch.from_numpy(x.transpose(0, 3, 1, 2)))
        return
    assert torch.equal(got, torch.from_numpy(want))


def test_load_images_reads_what_sample_writes(run, tmp_path):
    assert run_cli("sample", str(run), "--n", "10", "--out", str(tmp_path / "s.npz")).returncode == 0
    x, described = load_images(tmp_path / "s.npz")
    assert x.shape == (10, 1, 28, 28) and x.dtype == torch.uint8 and "10 images" in described
