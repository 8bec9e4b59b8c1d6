"""One way in (issue 41): the CLI, --print-config, a --config file, the Python API (dicts of
flat names, sections and dotted keys; a TrainConfig) and a saved run all pass through
``resolver.resolve``; what it returns is what config.json records; a run started either
way resumes the other way bit for bit; and every bad name or pair is one line, exit 2,
before any file or download."""
import contextlib
import io
import json

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dfmgan
from dfmgan.checkpoint import load_latest_state
from dfmgan.cli import main
from dfmgan.config import TrainConfig, dotted, flatten, from_dict, merge
from dfmgan.errors import ConfigError
from dfmgan.models.netconfig import NetConfig
from dfmgan.objectives import OBJECTIVES
from dfmgan.presets import PRESETS
from dfmgan.resolver import FLAG_KEYS, layer_of, resolve

from conftest import run_cli, untimed


def cli(*argv: str) -> tuple[int, str, str]:
    """``dfmgan ARGV`` in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse's own refusals
            code = e.code
    return code, out.getvalue(), err.getvalue()


def printed(*argv: str) -> dict:
    code, out, err = cli("train", "--print-config", *argv)
    assert code == 0, err
    return yaml.safe_load(out)


# --- the spellings of one layer ------------------------------------------------------

# settings every objective and data set accepts, with values unlike the defaults
VALUES = {"steps": 7, "seed": 3, "batch_size": 12, "net.g_width": 12, "net.d_width": 10,
          "optim.lr": 3e-4, "optim.beta1": 0.6, "ema": 500.0, "keep": 2, "log_every": 5,
          "net.latent": "normal", "speed.channels_last": False, "sample_every": 9}
FLAG_OF = {key: flag for flag, key in FLAG_KEYS.items()}


def spell(flat: dict, how: list[str]) -> dict:
    """``flat`` (dotted keys) spelled per key as a section, a dotted key or a flag's name."""
    out: dict = {}
    for (key, value), way in zip(flat.items(), how):
        if way == "flag" and key in FLAG_OF:
            out[FLAG_OF[key]] = value
        elif way == "dotted":
            out[key] = value
        else:
            out = merge(out, dotted(key, value))
    return out


def cli_args(flat: dict) -> list[str]:
    """The same settings as the command line gives them: --set KEY=VALUE (YAML values)."""
    args = []
    for key, value in flat.items():
        args += ["--set", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    return args


layers = st.fixed_dictionaries({
    "preset": st.none() | st.sampled_from(sorted(PRESETS)),
    "objective": st.none() | st.sampled_from(sorted(OBJECTIVES)),
    "data": st.none() | st.sampled_from(["digits", "fashion-mnist", "clipart", "folder", "mnist"]),
    "file": st.dictionaries(st.sampled_from(sorted(VALUES)), st.just(None), max_size=4),
    "over": st.dictionaries(st.sampled_from(sorted(VALUES)), st.just(None), max_size=4),
    "how": st.lists(st.sampled_from(["section", "dotted", "flag"]), min_size=8, max_size=8),
})


def layer_values(keys: dict, bump: float) -> dict:
    return {k: (VALUES[k] * bump if isinstance(VALUES[k], float) and bump != 1 else VALUES[k])
            for k in keys}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(layers)
def test_the_cli_and_python_resolve_every_layering_alike(tmp_path, case):
    """preset x file x overrides x objective x data set, in flat, nested and dotted
    spellings: ``--print-config`` prints what ``dfmgan.resolve`` returns, and
    ``TrainConfig.given`` of a ``from_dict`` mapping resolves to the same."""
    file = layer_values(case["file"], 1.5)
    over = layer_values(case["over"], 1)
    top = {**over}
    if case["objective"]:
        top["objective.name"] = case["objective"]
    if case["data"]:
        top["data.name"] = case["data"]
    path = tmp_path / "file.yaml"
    path.write_text(yaml.safe_dump(spell(file, case["how"])))
    argv = (["--preset", case["preset"]] if case["preset"] else []) + ["--config", str(path)]
    argv += cli_args(top)
    python = dict(spell(top, case["how"][::-1]))
    try:
        want = resolve(python, preset=case["preset"], file=yaml.safe_load(path.read_text()))
    except ConfigError as e:  # an objective the preset's size cannot take, say: the CLI agrees
        code, _, err = cli("train", "--print-config", *argv)
        assert code == 2 and str(e) in err and err.count("\n") == 1
        return
    assert printed(*argv) == want.to_dict()
    if case["preset"] is None and not file:  # the same layer as a TrainConfig built in Python
        assert resolve(from_dict(layer_of(python))).to_dict() == want.to_dict()
    for key, value in {**file, **over}.items():  # the flags beat the file, which beats the rest
        assert flatten(want.to_dict())[key] == value


def test_flat_names_sections_and_dotted_keys_are_one_setting():
    a = dfmgan.build_config(overrides={"objective": "dfm", "data": "digits", "g_width": 8})
    b = dfmgan.build_config(overrides={"objective": {"name": "dfm"}, "data.name": "digits",
                                       "net": {"g_width": 8}})
    c = dfmgan.resolve({"objective.name": "dfm", "net.g_width": 8})  # digits: the default data
    assert a.to_dict() == b.to_dict() == c.to_dict()
    assert a.net.g_width == 8 and a.objective.scheme == "simultaneous" and a.net.size == 28


@pytest.mark.parametrize("layer,needle", [
    ({"net.g_width": 8, "net": {"g_width": 16}}, "given twice"),
    ({"net": 8, "net.g_width": 8}, "section of settings"),
    ({1: 2}, "not a setting's name"),
    ({"net..x": 2}, "not a setting's name"),
    ([1, 2], "mapping of settings"),
])
def test_a_layer_spelled_two_ways_at_once_is_refused(layer, needle):
    with pytest.raises(ConfigError, match=needle):
        layer_of(layer)


def test_a_trainconfig_counts_only_what_its_maker_gave():
    """``TrainConfig(steps=2)`` trains the default data set's preset for 2 steps; a
    setting given equal to its default still wins over the preset (net.size 64 here)."""
    cfg = TrainConfig(steps=2, net=NetConfig(size=64, g_width=8))
    assert cfg.given() == {"steps": 2, "net": {"size": 64, "g_width": 8}}
    cfg.seed = 0
    assert cfg.given()["seed"] == 0  # an assignment counts, even of the default value
    got = resolve(cfg)
    assert (got.net.size, got.net.channels, got.net.g_width) == (64, 1, 8)  # digits: grey
    assert got.steps == 2 and got.preset == "digits"
    assert resolve(got).to_dict() == got.to_dict()  # resolved once, resolved for good


def test_the_default_data_set_trains_what_make_demo_trains():
    """No --data: the default data set with its own preset, never 8x8 digits blown up
    to a 64 px RGB net."""
    assert printed() == printed("--preset", "digits") == resolve().to_dict()
    assert resolve().net.size == 28 and resolve().net.channels == 1


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(OBJECTIVES)), st.sampled_from(sorted(PRESETS)))
def test_resolution_is_a_fixed_point(objective, preset):
    """A resolved config (as config.json records it) resolves to itself, by every route:
    as a dict, as a --config file, as a saved run's base."""
    try:
        cfg = resolve({"objective": objective}, preset=preset)
    except ConfigError:
        return  # a pair this preset cannot take: refused, tested below
    d = cfg.to_dict()
    assert resolve(d).to_dict() == d
    assert resolve(file=d).to_dict() == d
    assert resolve(base=d).to_dict() == d
    assert resolve(from_dict(json.loads(cfg.to_json()))).to_dict() == d


# --- bad input: one line, status 2, before any file or download ----------------------

BAD = [
    (["--objective", "nope"], "invalid choice"),
    (["--data", "nope"], "unknown dataset"),
    (["--set", "data.name=nope"], "unknown dataset"),
    (["--split", "nope"], "no split"),
    (["--eval-metrics", "fid,nope", "--eval-every", "5"], "unknown metric"),
    (["--eval-metrics", "nope"], "unknown metric"),
    (["--eval-every", "5", "--eval-best", "nope"], "eval_best"),
    (["--eval-every", "5", "--eval-metrics", "nn-error"], "cannot run during training"),
    (["--objective", "dfm", "--set", "objective.dfm.feature_layer=2"], "feature_layer"),
    (["--objective", "fm", "--set", "objective.fm.feature_layer=-3"], "feature_layer"),
    (["--objective", "dfm", "--scheme", "alternating", "--set", "objective.dfm.feature_layer=9"],
     "feature_layer"),
    (["--set", "device=gpu"], "unknown device"),
    (["--set", "steps=0"], "steps must be in"),
    (["--set", "optim.lr=.nan"], "optim.lr must be in"),
    (["--set", "net.size=30"], "unsupported image size"),
    (["--set", "nope=1"], "unknown config key"),
    (["--set", "objective.dfm.lambda_scale=2"], "objective 'dfm', but the objective is 'gan'"),
    (["--objective", "wgan-gp", "--adversarial", "hinge"], "needs the"),
    (["--set", "sample_bn=nope"], "sample_bn"),
    (["--set", "data.fit=nope"], "fit"),
    (["--preset", "digits", "--set", "epochs=2", "--steps", "3"], "not both"),
]


@pytest.mark.parametrize("argv,needle", BAD)
def test_a_bad_setting_is_one_line_before_anything_is_made(tmp_path, argv, needle):
    """The same refusal from --print-config, from `train --out` (no folder made, no
    download tried); Python's refusals of the same classes are tested below."""
    for extra in (["--print-config"], ["--out", str(tmp_path / "run"), "--download"]):
        code, out, err = cli("train", *argv, *extra)
        assert code == 2 and needle in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()
    assert not any(tmp_path.iterdir())


def test_a_metric_that_needs_missing_inception_weights_is_refused_up_front(tmp_path, without_inception_weights):
    code, _, err = cli("train", "--data", "folder", "--data-root", str(tmp_path), "--eval-every",
                       "5", "--out", str(tmp_path / "run"))
    assert code == 2 and "'.[fid]'" in err and not (tmp_path / "run").exists()


bad_layers = st.sampled_from([
    {"objective": "nope"}, {"data": "nope"}, {"split": "nope"}, {"eval_metrics": "nope"},
    {"eval_every": 5, "eval_best": "nope"}, {"objective": "dfm", "objective.dfm.feature_layer": 7},
    {"device": "cuda:x"}, {"steps": -1}, {"net.size": 31}, {"lr": float("inf")},
    {"objective": "wgan-gp", "scheme": "simultaneous", "adversarial": "hinge"},
    {"net": {"g_width": 0}}, {"preset": "nope"}, {"objective.gan.x": 1},
])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad_layers, st.sampled_from([None, "digits", "fashion-mnist", "clipart-32"]))
def test_python_refuses_what_the_cli_refuses_before_any_file(tmp_path, layer, preset):
    out = tmp_path / f"run-{abs(hash(json.dumps(layer, default=str)))}"
    with pytest.raises(ConfigError) as e:
        dfmgan.train({"preset": preset, **layer} if preset else layer, out, progress=False)
    assert "\n" not in str(e.value) and not out.exists()


def test_train_without_a_folder_is_refused():
    with pytest.raises(ConfigError, match="run folder"):
        dfmgan.train({"steps": 1})


# --- a run started one way resumes the other way, bit for bit ---------------------------

TINY = {"g_width": 8, "d_width": 8, "batch_size": 16, "log_every": 1, "grid": 16,
        "sample_every": 1000, "checkpoint_every": 1000}


def same_weights(a, b) -> None:
    sa, sb = load_latest_state(a), load_latest_state(b)
    assert sa["step"] == sb["step"]
    for net, weights in sa["objective"]["modules"].items():
        for k, v in weights.items():
            assert torch.equal(v, sb["objective"]["modules"][net][k]), (net, k)
    rows = lambda p: untimed([json.loads(l) for l in (p / "stats.jsonl").read_text().splitlines()])
    assert rows(a) == rows(b)


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["gan", "dfm", "wgan-gp"])
def test_a_run_started_from_python_resumes_from_the_cli_and_back(tmp_path, objective):
    """The issue's dict (flat names; data by name, no preset): Python trains N steps, the
    CLI resumes to 2N, Python resumes to 3N; the same run straight from the CLI to 3N is
    bitwise equal, and each config.json is what --print-config resolves."""
    settings_ = {"objective": objective, "data": "digits", **TINY}
    n = 2
    dfmgan.train({**settings_, "steps": n}, tmp_path / "py", progress=False, threads=1)
    saved = json.loads((tmp_path / "py" / "config.json").read_text())
    flags = ["--threads", "1", "--objective", objective, "--data", "digits", "--set", "net.g_width=8",
             "--set", "net.d_width=8", "--batch-size", "16", "--log-every", "1", "--set",
             "grid=16", "--sample-every", "1000", "--checkpoint-every", "1000"]
    assert printed(*flags[2:], "--steps", str(n)) == saved
    r = run_cli("train", "--resume", str(tmp_path / "py"), "--steps", str(2 * n), "--no-progress",
                "--threads", "1")
    assert r.returncode == 0, r.stderr
    dfmgan.train({"steps": 3 * n}, tmp_path / "py", resume=True, progress=False, threads=1)
    r = run_cli("train", *flags, "--steps", str(3 * n), "--out", str(tmp_path / "cli"),
                "--no-progress")
    assert r.returncode == 0, r.stderr
    same_weights(tmp_path / "cli", tmp_path / "py")
    assert json.loads((tmp_path / "cli" / "config.json").read_text()) == \
        json.loads((tmp_path / "py" / "config.json").read_text())


def test_a_run_started_from_the_cli_resumes_from_python_bitwise(tmp_path):
    """N steps by the CLI, N more by ``dfmgan.train(None, RUN, resume=True)`` after a
    longer budget, equals 2N straight from Python's dict of the same flags."""
    flags = ["--preset", "digits", "--objective", "dfm", "--set", "net.g_width=8", "--set",
             "net.d_width=8", "--batch-size", "16", "--log-every", "1", "--set", "grid=16",
             "--set", "objective.dfm.denoiser.width=16"]
    assert cli("train", *flags, "--steps", "2", "--out", str(tmp_path / "cli"), "--no-progress")[0] == 0
    dfmgan.train({"steps": 4}, tmp_path / "cli", resume=True, progress=False)
    dfmgan.train({"preset": "digits", "objective": "dfm", **TINY, "steps": 4,
                  "objective.dfm.denoiser.width": 16}, tmp_path / "py", progress=False)
    same_weights(tmp_path / "py", tmp_path / "cli")


def test_a_resume_that_changes_what_cannot_change_is_refused_from_python_too(tmp_path):
    dfmgan.train({**TINY, "steps": 1}, tmp_path / "r", progress=False)
    before = (tmp_path / "r" / "config.json").read_bytes()
    with pytest.raises(ConfigError, match="different config"):
        dfmgan.train({"g_width": 16}, tmp_path / "r", resume=True, progress=False)
    assert (tmp_path / "r" / "config.json").read_bytes() == before
