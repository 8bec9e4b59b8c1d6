"""The truncation trick: z' = ψ·z exactly; it is not undone by batch statistics (in batch
mode G's first BatchNorm would divide any ψ out, so truncated latents are drawn with the
statistics of untruncated ones); lower ψ means less varied images; a bad ψ is one line."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dfmgan.cli import main
from dfmgan.errors import ConfigError
from dfmgan.sampling import sample, truncate
from dfmgan.snapshot import load_generator


@given(psi=st.floats(1e-6, 2.0), seed=st.integers(0, 2 ** 31), n=st.integers(1, 5), nz=st.integers(1, 9))
def test_truncation_is_psi_times_z(psi, seed, n, nz):
    z = torch.randn(n, nz, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(truncate(z, psi), z * psi if psi != 1.0 else z)


@pytest.mark.parametrize("psi", [0.0, -0.5, 2.5, math.nan, math.inf])
def test_truncation_out_of_range_is_refused(psi):
    with pytest.raises(ConfigError, match="--truncation"):
        truncate(torch.zeros(1, 3), psi)


@pytest.fixture(scope="module")
def G():
    return load_generator("zoo:digits-gan").net


def spread(images: torch.Tensor) -> float:
    """How different the images are from one another: the pixels' std across the batch."""
    return images.float().std(0).mean().item()


@settings(max_examples=6, deadline=None)
@given(psi=st.floats(0.05, 0.95), seed=st.integers(0, 1000))
def test_truncation_is_not_undone_by_batch_statistics(G, psi, seed):
    full, cut = sample(G, 64, seed), sample(G, 64, seed, truncation=psi)
    assert not torch.equal(full, cut)
    # lower ψ, less varied images: ψ² of the way from one ψ to the next, measured on 64
    assert spread(sample(G, 64, seed, truncation=psi * 0.5)) < spread(cut) < spread(sample(G, 64, seed, truncation=0.99))


def test_sample_and_eval_take_truncation(tmp_path, capsys):
    assert main(["sample", "zoo:digits-gan", "--n", "8", "--truncation", "0.5", "--out", str(tmp_path / "a.npz")]) == 0
    with np.load(tmp_path / "a.npz") as f:
        got = torch.from_numpy(f["images"]).permute(0, 3, 1, 2)
    assert torch.equal(got, sample(load_generator("zoo:digits-gan").net, 8, 0, truncation=0.5))
    assert main(["eval", "zoo:digits-gan", "--n", "64", "--metrics", "fid", "--truncation", "0.7",
                 "--no-progress", "--out", str(tmp_path / "m.jsonl")]) == 0
    assert json.loads((tmp_path / "m.jsonl").read_text())["provenance"]["truncation"] == 0.7
    assert main(["eval", str(tmp_path / "a.npz"), "--data", "digits", "--truncation", "0.7",
                 "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "not to an image set" in capsys.readouterr().err and not (tmp_path / "x.jsonl").exists()
