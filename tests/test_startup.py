"""Start-up: `dfmgan --help`, `--version` and `dfmgan info` import no torch (they answer
at once); a generator loads from its one safetensors file; the networks satisfy the
model protocols."""
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

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
    from dfmgan.snapshot_file import read_snapshot
    from dfmgan.snapshot_file import parameter_count

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


@pytest.mark.slow
def test_sample_draws_grids_the_size_training_draws_them(run, tmp_path):
    from PIL import Image

    from conftest import run_cli

    out = tmp_path / "g.png"
    assert run_cli("sample", str(run), "--n", "16", "--out", str(out)).returncode == 0
    assert Image.open(out).size == Image.open(run / "samples" / "latest.png").size


@pytest.mark.slow
def test_print_config_prints_yaml_that_reads_back_as_the_same_config(tmp_path):
    import yaml

    from conftest import run_cli
    from dfmgan.resolver import build_config

    r = run_cli("train", "--preset", "fashion-mnist", "--objective", "dfm", "--set",
                "objective.dfm.lambda_scale=1e3", "--print-config")
    assert r.returncode == 0 and not (tmp_path / "run").exists()
    printed = yaml.safe_load(r.stdout)
    assert printed["optim"]["lr"] == 2e-4 and printed["objective"]["dfm"]["lambda_scale"] == 1000.0
    assert printed["objective"]["scheme"] == "simultaneous"
    again = build_config(file=printed)
    assert again.to_dict() == printed


def test_every_flag_of_every_command_has_help():
    from dfmgan.cli import build_parser

    subs = build_parser()._subparsers._group_actions[0].choices
    missing = [f"{name} {a.option_strings or a.dest}" for name, sp in subs.items()
               for a in sp._actions if not a.help]
    assert missing == []


def test_every_command_that_runs_a_network_defaults_to_auto_and_auto_is_the_cpu_here():
    import torch

    from dfmgan.cli import build_parser
    from dfmgan.devices import resolve_device

    subs = build_parser()._subparsers._group_actions[0].choices
    with_device = {name: next(a for a in sp._actions if a.dest == "device")
                   for name, sp in subs.items() if any(a.dest == "device" for a in sp._actions)}
    assert set(with_device) >= {"train", "sample", "eval", "study", "probe", "interpolate",
                                "arithmetic", "ablate", "visualize", "dedup"}
    for name, action in with_device.items():  # train and study: auto unless the config says
        assert action.default in ("auto", None), name
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.slow
def test_train_first_line_names_device_precision_data_and_folder(tmp_path):
    from conftest import TINY_FLAGS, run_cli

    out = tmp_path / "run"
    r = run_cli("train", "--preset", "digits", "--out", str(out), "--steps", "2", *TINY_FLAGS,
                "--threads", "1")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("dfmgan train on cpu (1 thread; --threads sets them), fp32: "
                            "digits[train] (scikit-learn)")
    assert f"-> {out} (from scratch, 2 steps; checkpoints " in first and " MB each, 3 kept" in first
    r = run_cli("train", "--resume", str(out), "--steps", "3", "--threads", "2", "--no-progress")
    assert r.returncode == 0, r.stderr


def test_every_command_that_runs_a_network_takes_threads_and_sets_them(monkeypatch, capsys):
    """--threads wherever --device is (study has its own: threads per run), set by main
    before the command runs; a bad count is one line and status 2."""
    import torch

    from dfmgan import cli

    subs = cli.build_parser()._subparsers._group_actions[0].choices
    for name, sp in subs.items():
        dests = {a.dest for a in sp._actions}
        if "device" in dests:
            assert ("torch_threads" in dests) == (name != "study"), name
    seen = []
    name, *rest = ["interpolate", "no-run", "--out", "walk.png"]
    monkeypatch.setitem(cli.SUBCOMMANDS, name, (*cli.SUBCOMMANDS[name][:2],
                                                lambda args: seen.append(torch.get_num_threads()) or 0))
    before = torch.get_num_threads()
    for n in (1, 2, 3):
        assert cli.main([name, *rest, "--threads", str(n)]) == 0
        assert torch.get_num_threads() == before  # and then as they were
    assert seen == [1, 2, 3]
    for bad in ("0", "two", "-1"):
        with pytest.raises(SystemExit) as e:
            cli.main([name, *rest, "--threads", bad])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--threads" in err


def train_flags() -> list[str]:
    from dfmgan.cli import build_parser

    sub = build_parser("train")._subparsers._group_actions[0].choices["train"]
    return sorted({o for a in sub._actions for o in a.option_strings if o.startswith("--")
                   and a.nargs != 0 and o not in ("--help",)})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_misspelt_or_shortened_flag_is_refused_with_a_suggestion(capsys, data):
    """No flag is taken from a prefix of it (``--step`` for ``--steps``); a flag with two
    neighbouring letters swapped is refused in one line that suggests it."""
    from dfmgan import cli

    flag = data.draw(st.sampled_from([f for f in train_flags() if len(f) >= 7]))
    name = flag[2:]
    cut = data.draw(st.integers(2, len(name) - 1))
    i = data.draw(st.integers(0, len(name) - 2))
    swapped = name[:i] + name[i + 1] + name[i] + name[i + 2:]
    for wrong in {"--" + name[:cut], "--" + swapped} - set(train_flags()):
        with pytest.raises(SystemExit) as e:
            cli.main(["train", "--preset", "digits", "--out", "/nonexistent/x", wrong, "1"])
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.count("\n") == 1, err
        assert f"unrecognized arguments: {wrong}" in err
        if wrong == "--" + swapped and swapped != name:
            assert "did you mean --" in err, err


@pytest.mark.parametrize("kind,write", [
    ("zip archive", lambda p: __import__("numpy").savez(open(p, "wb"), a=__import__("numpy").zeros(3))),
    ("zip archive", lambda p: __import__("torch").save({"w": __import__("torch").zeros(2)}, p)),
    ("Python pickle", lambda p: p.write_bytes(__import__("pickle").dumps({"w": 1}, protocol=2))),
    ("numpy .npy", lambda p: __import__("numpy").save(open(p, "wb"), __import__("numpy").zeros(3))),
    ("PNG image", lambda p: __import__("PIL.Image").Image.new("L", (4, 4)).save(p, "PNG")),
    ("JSON text", lambda p: p.write_text('{"a": 1}')),
    ("empty", lambda p: p.write_bytes(b"")),
])
def test_a_file_of_the_wrong_kind_is_named_by_its_kind(tmp_path, kind, write):
    """Given where a snapshot is asked for, a file of another kind is one line that says
    what it is (not "header longer than the file"), status 2."""
    import shutil

    raw = tmp_path / "raw"
    write(raw)
    target = tmp_path / "model.safetensors"
    shutil.move(raw, target)
    r = subprocess.run([sys.executable, "-m", "dfmgan", "sample", str(target), "--out",
                        str(tmp_path / "s.png")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert kind in r.stderr and "Traceback" not in r.stderr


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2 ** 40), st.integers(0, 20)), min_size=1, max_size=6))
def test_seed_ranges_parse_to_every_seed_in_order(parts):
    from dfmgan.sampling import parse_seeds

    text = ",".join(f"{a}-{a + k}" if k else str(a) for a, k in parts)
    assert parse_seeds(text) == [s for a, k in parts for s in range(a, a + k + 1)]


@pytest.mark.parametrize("bad", ["", "3-1", "a", "1-", "-2", "1,,2", "0-200000", "1.5"])
def test_bad_seed_ranges_are_one_line(bad):
    from dfmgan.errors import DfmganError
    from dfmgan.sampling import parse_seeds

    with pytest.raises(DfmganError, match="--seeds"):
        parse_seeds(bad)


@pytest.mark.slow
def test_sample_seeds_gives_each_seed_its_own_image(tmp_path):
    """With running BatchNorm statistics an image depends on its seed alone: --seeds 3,5
    gives the images at those places of --seeds 0-5, and --seeds 0-5 the images --n 1
    --seed s gives for each s."""
    import numpy as np

    from conftest import run_cli

    run = tiny_run(tmp_path / "run")
    def npz(name, *flags):
        r = run_cli("sample", str(run), "--out", str(tmp_path / f"{name}.npz"), "--bn", "running", *flags)
        assert r.returncode == 0, r.stderr
        return next(iter(np.load(tmp_path / f"{name}.npz").values()))
    all6, two = npz("all", "--seeds", "0-5"), npz("two", "--seeds", "3,5")
    assert len(all6) == 6 and np.array_equal(two, all6[[3, 5]])
    assert np.array_equal(npz("one", "--n", "1", "--seed", "4")[0], all6[4])
    r = run_cli("sample", str(run), "--out", str(tmp_path / "x.npz"), "--seeds", "5-2")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--seeds" in r.stderr
