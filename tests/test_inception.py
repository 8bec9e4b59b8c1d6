"""The standard Inception path (an optional extra). The tests that need the architecture
run where torch-fidelity installs (``make test-inception``); the core suite checks the
one-line message a core install gives instead. No test downloads: the official weights
are unreachable here, so the network is built from a random state dict whose names and
shapes come from torchvision's Inception-v3, the model pytorch-fid loads the same file into."""
import hashlib
import os
import pickle

import pytest
import torch
from conftest import run_cli, tiny_run

from dfmgan.errors import DfmganError
from dfmgan.evaluation import inception
from dfmgan.evaluation.features import extract, feature_net_for


def has_fidelity() -> bool:
    try:
        inception.fidelity_module()
        return True
    except DfmganError:
        return False


needs_extra = pytest.mark.skipif(not has_fidelity(), reason="needs the [inception] extra "
                                 "(make test-inception builds a venv with it)")


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty torch hub cache and no weight path: as on a fresh, offline machine."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(inception.ENV, raising=False)
    return tmp_path / "torch"


def official_layout() -> dict:
    """Random Inception-v3 weights under the official file's names (FID head: 1008 classes,
    no auxiliary classifier), minus BatchNorm's step counters, which the file lacks."""
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    tv = inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)
    state = {k: v for k, v in tv.state_dict().items() if not k.endswith("num_batches_tracked")}
    for k, v in state.items():  # He-scaled, so 40 random layers keep activations O(1)
        if v.dim() > 1:
            state[k] = torch.randn(v.shape) * (2 / v[0].numel()) ** 0.5
    return state


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(official_layout(), path)
    return path


@pytest.mark.inception
@needs_extra
def test_parameter_names_and_shapes_match_the_official_layout(random_weights):
    state = official_layout()
    net = inception.InceptionNet(state, "torchvision layout", "0" * 64)  # strict load
    ours = {k: v.shape for k, v in net.net.state_dict().items()
            if not k.endswith("num_batches_tracked")}
    assert ours == {k: v.shape for k, v in state.items()}
    assert len(ours) == 472 and ours["fc.weight"] == (1008, 2048)
    assert ours["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert torch.equal(net.net.state_dict()["Mixed_7c.branch_pool.conv.weight"],
                       state["Mixed_7c.branch_pool.conv.weight"])  # loaded, not re-initialised


@pytest.mark.inception
@needs_extra
@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (2, 3, 32, 32), (2, 3, 64, 64)])
def test_output_shapes(random_weights, shape):
    net = inception.InceptionNet.standard(random_weights)
    images = torch.randint(0, 256, shape, dtype=torch.uint8)
    f = extract(net, images, batch=2)
    assert f.pool.shape == (shape[0], 2048) and f.logits.shape == (shape[0], 1008)
    assert torch.isfinite(f.pool).all() and (f.pool >= 0).all()  # after ReLU + average pool


@pytest.mark.inception
@needs_extra
def test_weights_from_path_env_and_cache(random_weights, offline_cache, monkeypatch):
    sha = hashlib.sha256(random_weights.read_bytes()).hexdigest()
    assert feature_net_for("cifar10", inception_weights=random_weights).sha256 == sha
    monkeypatch.setenv(inception.ENV, str(random_weights))
    net = feature_net_for("cifar10")  # no bundled net for CIFAR-10: the standard one
    assert net.provenance() == {"feature_net": "inception-v3-fid", "feature_net_sha256": sha}
    monkeypatch.delenv(inception.ENV)
    cached = inception.cache_path()
    assert str(cached).startswith(str(offline_cache))
    cached.parent.mkdir(parents=True)
    cached.write_bytes(random_weights.read_bytes())
    assert feature_net_for("svhn").sha256 == sha  # read from the cache, nothing downloaded


@pytest.mark.inception
@needs_extra
def test_offline_without_weights_says_what_to_download(offline_cache):
    with pytest.raises(DfmganError) as e:
        feature_net_for("cifar10")
    msg = str(e.value)
    assert inception.URL in msg and str(inception.cache_path()) in msg
    assert "--inception-weights" in msg and "\n" not in msg
    assert not any(offline_cache.rglob("*.pth")) and not any(offline_cache.rglob("*.partial"))


@pytest.mark.inception
@needs_extra
def test_wrong_or_unsafe_weight_files_are_refused(tmp_path):
    state = official_layout()
    del state["fc.bias"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(DfmganError, match="is not the FID Inception weight file.*fc.bias"):
        inception.InceptionNet.standard(tmp_path / "partial.pth")

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"x": Evil()}, protocol=2))
    with pytest.raises(DfmganError, match="is not a PyTorch weight file"):
        inception.InceptionNet.standard(tmp_path / "evil.pth")
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(DfmganError, match="Inception weights not found"):
        inception.InceptionNet.standard(tmp_path / "missing.pth")


@pytest.mark.inception
@needs_extra
def test_eval_cli_with_the_inception_network(tmp_path, random_weights):
    run = tiny_run(tmp_path / "run", steps=2)
    r = run_cli("eval", str(run), "--feature-net", "inception", "--inception-weights",
                str(random_weights), "--n", "12", "--splits", "2", "--metrics", "fid,kid,is,pr")
    assert r.returncode == 0, r.stderr
    import json
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["provenance"]["feature_net"] == "inception-v3-fid" and row["provenance"]["n_gen"] == 12
    assert row["provenance"]["feature_net_sha256"] == hashlib.sha256(random_weights.read_bytes()).hexdigest()
    assert {"fid", "kid", "is", "precision"} <= set(row)
    assert row["fid"] > 0 and 1 <= row["is"] <= 1008


@pytest.mark.skipif(has_fidelity(), reason="the [inception] extra is installed here")
def test_core_install_names_the_extra(tmp_path, offline_cache):
    run = tiny_run(tmp_path / "run", steps=2)
    before = sorted(p.name for p in run.iterdir())
    r = run_cli("eval", str(run), "--feature-net", "inception", "--n", "4")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "pip install -e '.[inception]'" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in run.iterdir()) == before  # no metrics.jsonl written
    assert not offline_cache.exists()  # nothing downloaded before the extra was found missing
