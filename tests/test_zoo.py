"""The model zoo: every shipped model opens, samples and matches its checksums; a damaged
file anywhere is named; ``zoo:NAME`` works where a run folder does; nothing writes in it."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cli
from dfmgan import zoo
from dfmgan.digests import file_sha256
from dfmgan.cli import main
from dfmgan.errors import CheckpointError, ConfigError
from dfmgan.snapshot import load_discriminator, load_generator

MODELS = sorted(zoo.entries())
MB = 1e6


def test_the_zoo_holds_what_the_issue_asks_for():
    assert {"fashion-mnist-gan", "fashion-mnist-dfm", "digits-gan"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_each_model_loads_samples_and_keeps_to_its_card(name):
    entry = zoo.entries()[name]
    folder = zoo.ROOT / name
    assert sorted(p.name for p in folder.iterdir()) == sorted(entry["files"])
    assert sum((folder / f).stat().st_size for f in entry["files"]) < 4 * MB  # "a few MB"
    G = load_generator(f"zoo:{name}")
    images = G.sample(8, seed=0)
    assert images.shape == (8, entry["channels"], entry["size"], entry["size"])
    assert images.dtype == torch.uint8 and images.float().std() > 0  # not one flat colour
    D, meta = load_discriminator(f"zoo:{name}")
    logits = D(images.float() / 127.5 - 1)
    assert torch.isfinite(logits).all() and meta["step"] == entry["steps"]
    card = (folder / "README.md").read_text()
    # the card's metrics are the index's, and it says how the model was trained
    assert f"| fid | {entry['metrics']['fid']:.4g} |" in card and "## Trained with" in card
    row = json.loads((folder / "metrics.jsonl").read_text())
    assert row["fid"] == entry["metrics"]["fid"] and row["provenance"]["source"] == f"zoo:{name}"


def test_listing_names_every_model():
    text = zoo.listing()
    for name in MODELS:
        assert name in text


@pytest.fixture(scope="module")
def zoo_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    shutil.copy(zoo.ROOT / zoo.INDEX, root / zoo.INDEX)
    for name in MODELS:
        shutil.copytree(zoo.ROOT / name, root / name)
    return root


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.data())
def test_a_flipped_byte_anywhere_is_named(zoo_copy, pick):
    name = pick.draw(st.sampled_from(MODELS))
    file = pick.draw(st.sampled_from(sorted(zoo.entries(zoo_copy)[name]["files"])))
    path = zoo_copy / name / file
    blob = bytearray(path.read_bytes())
    at = pick.draw(st.integers(0, len(blob) - 1))
    blob[at] ^= 1 << pick.draw(st.integers(0, 7))
    original = path.read_bytes()
    path.write_bytes(bytes(blob))
    try:
        with pytest.raises(CheckpointError, match=f"zoo:{name} is damaged: {file} "):
            zoo.resolve(f"zoo:{name}", root=zoo_copy)
    finally:
        path.write_bytes(original)
    assert zoo.resolve(f"zoo:{name}", root=zoo_copy) == str(zoo_copy / name)


def test_a_missing_file_is_named(zoo_copy):
    name = MODELS[0]
    path = zoo_copy / name / "discriminator.safetensors"
    kept = path.read_bytes()
    path.unlink()
    try:
        with pytest.raises(CheckpointError, match="discriminator.safetensors is missing"):
            zoo.resolve(f"zoo:{name}", root=zoo_copy)
    finally:
        path.write_bytes(kept)


@given(name=st.text(min_size=1, max_size=30).filter(lambda s: s not in MODELS))
@settings(max_examples=30, deadline=None)
def test_an_unknown_name_is_one_clear_error(name):
    with pytest.raises(ConfigError, match="the zoo has no model"):
        zoo.resolve("zoo:" + name)


def test_a_misspelt_name_gets_the_closest():
    with pytest.raises(ConfigError, match="did you mean zoo:fashion-mnist-gan"):
        zoo.resolve("zoo:fashion-mnist-gn")


def test_other_sources_pass_through():
    assert zoo.resolve("runs/x") == "runs/x" and zoo.resolve(None) is None


# The commands whose default output lands in the run they read: on a zoo model, refused.
WRITERS = [["eval", "--n", "50", "--metrics", "fid"], ["probe", "--labels", "10"], ["report"],
           ["baselines", "--baselines", "pixels"]]


@pytest.mark.parametrize("argv", WRITERS, ids=lambda a: a[0])
def test_no_command_writes_into_the_zoo(argv, capsys):
    name = MODELS[0]
    before = {p.name: file_sha256(p) for p in (zoo.ROOT / name).iterdir()}
    assert main([argv[0], f"zoo:{name}", *argv[1:]]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "inside dfmgan's model zoo" in err and "--out" in err
    assert {p.name: file_sha256(p) for p in (zoo.ROOT / name).iterdir()} == before


def test_the_tools_run_on_a_zoo_model(tmp_path):
    name = "fashion-mnist-dfm"
    for argv in (["sample", "--n", "16", "--out", "s.png"], ["interpolate", "--out", "w.png"],
                 ["arithmetic", "--a", "1,2,3", "--b", "4,5,6", "--c", "7,8,9", "--out", "a.png"],
                 ["info"], ["eval", "--n", "64", "--metrics", "fid", "--out", "m.jsonl"]):
        out = [str(tmp_path / a) if a.endswith((".png", ".jsonl")) else a for a in argv]
        assert main([out[0], f"zoo:{name}", *out[1:]]) == 0, argv
    assert (tmp_path / "s.png").is_file() and (tmp_path / "w-slerp.gif").is_file()
    assert json.loads((tmp_path / "m.jsonl").read_text())["fid"] > 0


def test_sample_from_the_zoo_in_a_fresh_process(tmp_path):
    """What the issue checks on a fresh clone: the zoo model samples, from the command line."""
    r = run_cli("sample", "zoo:fashion-mnist-dfm", "--n", "64", "--out", str(tmp_path / "g.png"))
    assert r.returncode == 0, r.stderr
    from PIL import Image

    assert Image.open(tmp_path / "g.png").size[0] > 32 * 8
    r = run_cli("zoo")
    assert r.returncode == 0 and all(n in r.stdout for n in MODELS)
