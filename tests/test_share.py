"""Sharing a generator: the model card written by `dfmgan export`, the single-file load,
and sample grids in TensorBoard."""
import json
import shutil

import pytest
import torch

from conftest import TINY_FLAGS, run_cli

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("share") / "run"
    r = run_cli("train", "--preset", "digits", "--out", str(out), "--steps", "4",
                "--sample-every", "2", "--ema", "500", *TINY_FLAGS)
    assert r.returncode == 0, r.stderr
    return out


def test_export_writes_a_card_and_a_snapshot_that_loads_alone(run, tmp_path):
    from dfmgan import load_generator

    (run / "metrics.jsonl").write_text(json.dumps(
        {"fid": 12.5, "provenance": {"n_gen": 300, "feature_net": "digits", "step": 4}}) + "\n")
    out = tmp_path / "share"
    r = run_cli("export", str(run), "--out", str(out), "--license", "CC-BY-4.0")
    assert r.returncode == 0, r.stderr
    card = (out / "README.md").read_text()
    for needle in ("gan on digits", "28×28 px", "4 steps of batch 16 (64 images)",
                   "EMA of G, half-life 500 images", "| licence | CC-BY-4.0 |", "| fid | 12.5 |",
                   "feature_net = digits", "radford2016dcgan", "goodfellow2014gan",
                   "(alternating updates, non-saturating loss)"):
        assert needle in card, needle
    assert "wardefarley2017dfm" not in card  # a gan run does not cite the DFM paper
    lone = tmp_path / "lone.safetensors"
    shutil.copy(out / "generator.safetensors", lone)
    G, ref = load_generator(lone), load_generator(run)  # the run's EMA generator
    assert G.cfg == ref.cfg and torch.equal(G.sample(3, seed=2), ref.sample(3, seed=2))


def test_export_refuses_a_folder_that_is_no_run(tmp_path):
    r = run_cli("export", str(tmp_path), "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "is not a dfmgan run" in r.stderr
    assert not (tmp_path / "x").exists()


def test_sample_grids_reach_tensorboard(run):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    acc.Reload()
    assert "samples" in acc.Tags()["images"]
    steps = [e.step for e in acc.Images("samples")]
    assert steps[:2] == [2, 4]
    first = acc.Images("samples")[0]
    assert first.width > 28 and first.height > 28
