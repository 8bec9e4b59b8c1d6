"""Start-up: `dfmgan --help`, `--version` and `dfmgan info` import no torch (they answer
at once); a generator loads from its one safetensors file; the networks satisfy the
model protocols."""
import subprocess
import sys

import pytest

from conftest import tiny_run

PROBE = """
import sys
from dfmgan.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print("TORCH" if "torch" in sys.modules else "NO-TORCH", code)
"""


def imports_torch(*args) -> tuple[bool, str]:
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                       timeout=120)
    last = r.stdout.strip().splitlines()[-1]
    assert last.split()[-1] in ("0", "None"), r.stdout + r.stderr
    return last.startswith("TORCH"), r.stdout


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("startup") / "run")


def test_help_version_and_info_import_no_torch(run):
    for args in (["--help"], ["--version"], ["info", str(run)],
                 ["info", str(run / "generator.safetensors")], ["info", str(run), "--json"]):
        torch_loaded, out = imports_torch(*args)
        assert not torch_loaded, f"dfmgan {' '.join(args)} imported torch"
    assert imports_torch("train", "--help")[0]  # the probe can see torch when it is loaded


def test_version():
    from dfmgan import __version__

    _, out = imports_torch("--version")
    assert f"dfmgan {__version__}" in out


def test_info_in_plain_words(run):
    _, out = imports_torch("info", str(run))
    assert "trained: step 3 of 3" in out and "EMA of G: off" in out
    assert "True" not in out and "None" not in out and "[" not in out  # no Python reprs


def test_info_counts_parameters_from_the_header_as_torch_does(run):
    from dfmgan.checkpoint import read_snapshot
    from dfmgan.files import parameter_count

    _, weights, _ = read_snapshot(run)
    by_torch = sum(v.numel() for k, v in weights.items()
                   if "running" not in k and "num_batches" not in k)
    assert parameter_count(run / "generator.safetensors") == by_torch > 0


def test_a_generator_loads_from_the_single_safetensors_file(run, tmp_path):
    import shutil

    import torch

    from dfmgan import load_generator

    lone = tmp_path / "shared.safetensors"
    shutil.copy(run / "generator.safetensors", lone)  # no .json beside it
    G, ref = load_generator(lone), load_generator(run)
    assert G.cfg == ref.cfg and G.meta["step"] == 3 == ref.meta["step"]
    assert torch.equal(G.sample(4, seed=1), ref.sample(4, seed=1))
    bare = tmp_path / "bare.safetensors"  # weights only: a clear error, not a traceback
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, bare)
    from dfmgan.errors import CheckpointError
    with pytest.raises(CheckpointError, match="no bare.json beside it"):
        load_generator(bare)


def test_the_networks_satisfy_the_model_protocols():
    from dfmgan.models import (Discriminator, DiscriminatorLike, Generator, GeneratorLike,
                               MLPDiscriminator, MLPGenerator, NetConfig)

    cfg = NetConfig(size=28, channels=1, g_width=4, d_width=4)
    for G, D in ((Generator(cfg), Discriminator(cfg)), (MLPGenerator(), MLPDiscriminator())):
        assert isinstance(G, GeneratorLike) and isinstance(D, DiscriminatorLike)
    assert not isinstance(Generator(cfg), DiscriminatorLike)  # no features(): not a D
