"""``copies``, the metric that reads the reference's real pixels: by hand, on generated
cases, and through ``dfmgan eval`` (where a statistics file, with no pixels, is refused)."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from dfmgan.evaluation.registry import get_metric
from dfmgan.evaluation.sources import Reference


def ref_of(images: torch.Tensor) -> Reference:
    return Reference(None, images, None, {})


def px(*values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.uint8).reshape(-1, 1, 1, 1)


def test_copies_by_hand():
    # real 0, 51, 102, 255 (/255: 0, .2, .4, 1): nearest other 51, 51, 51, 153 (/255);
    # its 5% quantile is 51/255. Samples 51, 25, 230, 160: nearest 0, 25, 25, 58 (/255):
    # three below the cut; medians (torch: the lower middle) 25/255 and 51/255
    out = get_metric("copies")(images=px(51, 25, 230, 160), reference=ref_of(px(0, 51, 102, 255)))
    assert out["copy_share"] == 0.75
    assert out["copy_nn_ratio"] == pytest.approx(25 / 51, rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(4, 40), k=st.integers(0, 40), seed=st.integers(0, 2**16))
def test_copied_samples_are_counted(n, k, seed):
    """k of the samples are training images: at least k of them count as copies, and when
    all are, the share is 1 and the distance ratio 0."""
    g = torch.Generator().manual_seed(seed)
    real = torch.randint(0, 256, (n, 3, 4, 4), dtype=torch.uint8, generator=g)
    k = min(k, n)
    fresh = torch.randint(0, 256, (n - k, 3, 4, 4), dtype=torch.uint8, generator=g)
    gen = torch.cat([real[torch.randperm(n, generator=g)[:k]], fresh])
    out = get_metric("copies")(images=gen, reference=ref_of(real))
    assert out["copy_share"] >= k / n
    if k == n:
        # cdist's matrix-product form leaves about 1e-3 of a zero distance
        assert out["copy_share"] == 1.0 and out["copy_nn_ratio"] == pytest.approx(0, abs=1e-2)


def test_fresh_draws_of_the_same_distribution_are_not_copies():
    g = torch.Generator().manual_seed(0)
    real, gen = (torch.randint(0, 256, (600, 1, 6, 6), dtype=torch.uint8, generator=g)
                 for _ in range(2))
    out = get_metric("copies")(images=gen, reference=ref_of(real))
    assert 0.01 < out["copy_share"] < 0.12  # about 0.05 by construction
    assert 0.95 < out["copy_nn_ratio"] < 1.05


def test_copies_in_eval_needs_real_pixels(tmp_path):
    g = np.random.default_rng(0)
    np.save(tmp_path / "gen.npy", g.integers(0, 256, (40, 8, 8, 1), dtype=np.uint8))
    np.save(tmp_path / "ref.npy", g.integers(0, 256, (40, 8, 8, 1), dtype=np.uint8))
    run = [sys.executable, "-m", "dfmgan", "eval", str(tmp_path / "gen.npy"), "--metrics",
           "copies", "--no-progress"]
    r = subprocess.run(run + ["--ref", str(tmp_path / "ref.npy"), "--out", str(tmp_path / "m.jsonl")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    row = json.loads((tmp_path / "m.jsonl").read_text())
    assert 0 <= row["copy_share"] <= 1 and row["provenance"]["metrics"] == ["copies"]
    # a statistics file holds features only: refused before any work, in one line
    r = subprocess.run([sys.executable, "-m", "dfmgan", "reference", str(tmp_path / "ref.npy"),
                        "--feature-net", "digits", "--out", str(tmp_path / "ref.safetensors"),
                        "--no-progress"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(run + ["--ref", str(tmp_path / "ref.safetensors"), "--feature-net", "digits",
                              "--out", str(tmp_path / "m2.jsonl")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "dfmgan: error: metric 'copies' needs the real images themselves (not only a statistics "
        "file); give --ref an image set or a dataset, not a statistics file"], r.stderr
    assert not (tmp_path / "m2.jsonl").exists()
