"""An objective's own settings: typed and range-checked by its ``Settings`` dataclass,
spelled ``objective.NAME.*``, and run folders written in the older flat layout still load
and resume."""
import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dfmgan.checkpoint import load_latest_state
from dfmgan.config import differences, from_dict, migrate
from dfmgan.errors import ConfigError
from dfmgan.objectives import OBJECTIVES
from dfmgan.resolver import build_config, complete, resolve
from dfmgan.training.rundir import RunDir
from dfmgan.training import train

from conftest import run_cli, tiny_overrides

# the objective mapping of a dfm run's config.json as written before 2026-11-23
LEGACY_DFM = {"name": "dfm", "scheme": "simultaneous", "adversarial": "non-saturating",
              "lambda_denoise": None, "lambda_scale": 1000.0, "dfm_grad_share": 0.25,
              "lambda_adv": 1.0, "feature_layer": -2,
              "denoiser": {"depth": 3, "width": 0, "sigma": 0.5, "anneal_steps": 0}}


def test_each_objective_writes_only_its_own_section():
    dfm = build_config("digits", overrides={"objective": {"name": "dfm"}}).to_dict()["objective"]
    assert set(dfm) == {"name", "scheme", "adversarial", "augment", "dfm", "r1", "r2", "reg_every"}
    assert dfm["dfm"] == {"lambda_denoise": None, "lambda_scale": 1000.0, "grad_share": 0.0,
                          "lambda_adv": 1.0, "feature_layer": -1,
                          "denoiser": {"depth": 2, "width": 0, "sigma": 1.0, "anneal_steps": 0,
                                       "every": 1, "bf16": False}}
    gan = build_config("digits").to_dict()["objective"]
    assert gan == {"name": "gan", "scheme": "alternating", "adversarial": "non-saturating",
                   "augment": "", "r1": 0.0, "r2": 0.0, "reg_every": 1}  # D-side terms: every objective's
    fm = build_config("digits", overrides={"objective": {"name": "fm"}}).to_dict()["objective"]
    assert fm["fm"] == {"feature_layer": -1}


def test_a_preset_keeps_only_the_chosen_objectives_section():
    dfm = build_config("imagenet32", overrides={"objective": {"name": "dfm"}})
    assert dfm.objective.own["denoiser"] == {"depth": 10, "width": 2048, "sigma": 1.0,
                                             "anneal_steps": 0, "every": 1, "bf16": False}
    gan = build_config("imagenet32").to_dict()["objective"]
    assert "dfm" not in gan and gan["name"] == "gan"


@pytest.mark.parametrize("objective,needle", [
    ({"name": "gan", "dfm": {"lambda_scale": 2.0}},
     "objective.dfm holds settings of objective 'dfm', but the objective is 'gan'"),
    ({"name": "dfm", "dfm": {"lambda_scale": float("nan")}}, "objective.dfm.lambda_scale must be in"),
    ({"name": "dfm", "dfm": {"denoiser": {"depth": 0}}}, "objective.dfm.denoiser.depth must be in 1..64"),
    ({"name": "dfm", "dfm": {"grad_shares": 1}}, "unknown objective.dfm key(s): grad_shares"),
    ({"name": "dfm", "dfm": {"lambda_denoise": "big"}}, "objective.dfm.lambda_denoise must be a number or null"),
    ({"name": "dfm", "dfm": 3}, "objective.dfm must be a mapping of dfm's settings"),
    ({"name": "fm", "fm": {"feature_layer": 99}}, "objective.fm.feature_layer must be in -64..63"),
])
def test_bad_settings_are_one_line(objective, needle):
    with pytest.raises(ConfigError) as e:
        build_config("digits", overrides={"objective": objective})
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_legacy_keys_move_to_their_objective():
    moved = migrate({"objective": dict(LEGACY_DFM)})["objective"]
    assert moved["dfm"] == {"lambda_denoise": None, "lambda_scale": 1000.0, "grad_share": 0.25,
                            "lambda_adv": 1.0, "feature_layer": -2, "denoiser": LEGACY_DFM["denoiser"]}
    assert set(moved) == {"name", "scheme", "adversarial", "dfm"}
    # fm read only the layer; gan read none of them
    fm = migrate({"objective": {**LEGACY_DFM, "name": "fm"}})["objective"]
    assert fm["fm"] == {"feature_layer": -2} and "dfm" not in fm
    gan = migrate({"objective": {**LEGACY_DFM, "name": "gan"}})["objective"]
    assert set(gan) == {"name", "scheme", "adversarial"}
    # a layer without a name (an old --set line): the key's first owner; the new spelling wins
    assert migrate({"objective": {"lambda_scale": 3, "dfm": {"lambda_scale": 5}}}) == \
        {"objective": {"dfm": {"lambda_scale": 5}}}
    assert migrate({"objective": {"lambda_scale": 3}}) == {"objective": {"dfm": {"lambda_scale": 3}}}


def test_a_legacy_config_equals_its_new_spelling():
    old = complete(base={"objective": LEGACY_DFM})  # as a run folder reads it
    new = build_config(overrides={"objective": {"name": "dfm", "dfm": {
        "grad_share": 0.25, "feature_layer": -2, "denoiser": {"depth": 3, "sigma": 0.5}}}})
    assert old.to_dict()["objective"] == new.to_dict()["objective"]
    assert not [d for d in differences(old, new) if d.startswith("objective")]
    resumed = build_config(base=old.to_dict())  # what `train --resume` builds from it
    assert resumed.to_dict()["objective"] == new.to_dict()["objective"]


def nested_keys(d: dict, prefix=()) -> list[tuple]:
    out = []
    for k, v in d.items():
        out += nested_keys(v, prefix + (k,)) if isinstance(v, dict) else [prefix + (k,)]
    return out


def without(d: dict, drop: list[tuple]) -> dict:
    out = json.loads(json.dumps(d))
    for path in drop:
        section = out
        for k in path[:-1]:
            section = section[k]
        section.pop(path[-1])
    return out


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_config_json_written_before_an_own_setting_existed_still_resumes(tmp_path_factory, data):
    """Any of an objective's own settings missing from a saved config.json (as in a run made
    before the setting was added) reads back as its default: the run folder's config equals
    today's and a resume with today's config is accepted."""
    name = data.draw(st.sampled_from(sorted(OBJECTIVES)))
    cfg = build_config("digits", overrides={"objective": {"name": name}})
    full = cfg.to_dict()
    keys = nested_keys(full["objective"].get(name, {}))
    drop = data.draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    folder = tmp_path_factory.mktemp("run")
    saved = without(full, [("objective", name) + k for k in drop])
    (folder / "config.json").write_text(json.dumps(saved))
    run = RunDir(folder)
    assert run.saved_config().to_dict() == full
    run.check_resume(cfg)  # no ConfigError


def _legacy(objective: dict) -> dict:
    """A new-layout objective mapping spelled as before (flat, dfm_grad_share)."""
    flat = {k: v for k, v in objective.items() if k != objective["name"]}
    for k, v in objective.get(objective["name"], {}).items():
        flat["dfm_grad_share" if k == "grad_share" else k] = v
    return flat


@pytest.mark.slow
def test_a_run_folder_in_the_old_layout_resumes_bitwise(tmp_path):
    """config.json rewritten into the flat layout (as every run before the change has it):
    `train --resume` accepts it and the result equals a straight run."""
    over = tiny_overrides(steps=4, checkpoint_every=2,
                          objective={"name": "dfm", "dfm": {"denoiser": {"width": 16}}})
    train(build_config("digits", overrides=over), tmp_path / "a", progress=False)
    train(build_config("digits", overrides={**over, "steps": 2}), tmp_path / "b", progress=False)
    path = tmp_path / "b" / "config.json"
    saved = json.loads(path.read_text())
    saved["objective"] = _legacy(saved["objective"])
    assert "lambda_scale" in saved["objective"]  # really the old layout
    path.write_text(json.dumps(saved))
    info = run_cli("info", str(tmp_path / "b"))  # the old layout, read in the new one
    assert info.returncode == 0 and "; dfm: lambda_scale 1,000, " in info.stdout, info.stdout
    r = run_cli("train", "--resume", str(tmp_path / "b"), "--steps", "4", "--no-progress")
    assert r.returncode == 0, r.stderr
    a, b = load_latest_state(tmp_path / "a"), load_latest_state(tmp_path / "b")
    assert b["step"] == 4
    for net, weights in a["objective"]["modules"].items():
        for k, v in weights.items():
            assert torch.equal(v, b["objective"]["modules"][net][k]), (net, k)


def test_every_way_of_building_dfm_trains_the_same_dfm():
    """The CLI's build_config, a bare from_dict and a direct constructor give one DFM: its
    scheme and λ scale are facts of the objective, not of the CLI (issue 27)."""
    from dfmgan.config import ObjectiveConfig, OptimConfig, from_dict
    from dfmgan.models import Discriminator, Generator
    from dfmgan.models.netconfig import NetConfig
    from dfmgan.objectives import build_objective
    from dfmgan.objectives.dfm import DFMObjective

    net = NetConfig(size=28, channels=1, g_width=8, d_width=8)
    G, D = Generator(net), Discriminator(net)
    via_cli = build_config("digits", overrides={"objective": {"name": "dfm"}}).objective
    via_dict = from_dict({"objective": {"name": "dfm"}}).objective
    built = [build_objective(G, D, via_cli, OptimConfig()), build_objective(G, D, via_dict, OptimConfig()),
             DFMObjective(G, D, ObjectiveConfig("dfm"), OptimConfig())]
    n_h = D.feature_dims()[-1]
    for obj in built:
        assert obj.scheme == "simultaneous"
        assert obj.lambda_denoise == pytest.approx(1000 * 0.03 / n_h)
    assert via_cli.scheme == "simultaneous"  # config.json shows the value in effect
    # an explicit choice still wins everywhere
    paper = from_dict({"objective": {"name": "dfm", "scheme": "alternating",
                                     "dfm": {"lambda_scale": 1.0}}}).objective
    obj = build_objective(G, D, paper, OptimConfig())
    assert obj.scheme == "alternating" and obj.lambda_denoise == pytest.approx(0.03 / n_h)
    gan = build_objective(G, D, from_dict({}).objective, OptimConfig())
    assert gan.scheme == "alternating"


def partial_configs():
    """(objective, a partial mapping): any objective, some of the sections its defaults
    touch given explicitly with other values, the rest left out."""
    from hypothesis import strategies as st

    from dfmgan.config import flatten
    from dfmgan.objectives import OBJECTIVES

    other = {"optim.lr": 3e-4, "optim.beta1": 0.7, "optim.beta2": 0.95, "net.d_norm": "none",
             "net.g_width": 16}

    def build(name, given):
        d = {"objective": {"name": name}}
        for k in given:
            section, key = k.split(".")
            d.setdefault(section, {})[key] = other[k]
        return d

    keys = sorted({*other, *(k for c in OBJECTIVES.values() for k in flatten(c.defaults))}
                  & set(other))
    return st.builds(build, st.sampled_from(sorted(OBJECTIVES)),
                     st.sets(st.sampled_from(keys)))


@settings(max_examples=40, deadline=None)
@given(partial_configs())
def test_a_partial_mapping_resolves_as_the_cli_resolves_it(d):
    """The ``TrainConfig`` that ``from_dict(d)`` makes, resolved as ``train`` resolves it
    (its given settings on top), equals the CLI's resolution of the same layer, for every
    objective: WGAN-GP's optimizer and D norm come with it however the config was made,
    and an explicit setting still wins. (That ``train`` itself goes through this resolver
    is tested end to end in test_resolver.py, by the config.json it writes.)"""
    via_train = resolve(from_dict(d)).to_dict()
    assert via_train == build_config(overrides=d).to_dict()
    for section, values in d.items():
        for k, v in values.items():
            assert via_train[section][k] == v  # given: kept


def test_train_applies_wgan_gps_defaults_to_a_bare_mapping(tmp_path):
    from dfmgan.config import merge

    d = {"objective": {"name": "wgan-gp"}, "optim": {"beta2": 0.95},
         "data": {"name": "digits"}, "net": {"size": 28, "channels": 1}}
    cfg = from_dict(merge(tiny_overrides(steps=1), d))
    train(cfg, tmp_path / "run", progress=False)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["optim"] == {"lr": 1e-4, "beta1": 0.0, "beta2": 0.95}
    assert saved["net"]["d_norm"] == "layer"


@pytest.mark.slow
@pytest.mark.parametrize("scale,kind", [(1e-7, "hardly feels the denoiser"), (1e7, "drowns")])
def test_a_dfm_ratio_out_of_range_warns_once(tmp_path, scale, kind):
    """dfm/grad_ratio is on the bar; far below 0.05 or above 5 for whole log windows, one
    warning line says what it means and what to change, however many windows it lasts."""
    from conftest import TINY_FLAGS, run_cli

    r = run_cli("train", "--preset", "digits", "--objective", "dfm", "--steps", "8",
                "--log-every", "2", "--set", f"objective.dfm.lambda_scale={scale}",
                "--set", "objective.dfm.denoiser.width=16", *TINY_FLAGS, "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr[-2000:]
    warnings = [ln for ln in r.stderr.splitlines() if "dfmgan: warning:" in ln]
    assert len(warnings) == 1 and "grad_ratio" in warnings[0] and kind in warnings[0] and "grad_share" in warnings[0], r.stderr
    rows = [json.loads(ln) for ln in (tmp_path / "r" / "stats.jsonl").read_text().splitlines()]
    ratios = [row["dfm/grad_ratio"] for row in rows if "dfm/grad_ratio" in row]
    assert len(ratios) >= 4 and all((x < 0.05) if scale < 1 else (x > 5) for x in ratios)


def objective_pairs():
    from hypothesis import strategies as st

    from dfmgan.objectives import OBJECTIVES

    names = sorted(OBJECTIVES)
    return st.tuples(st.sampled_from(names), st.sampled_from(names))


@settings(max_examples=30, deadline=None)
@given(objective_pairs())
def test_a_refused_resume_names_a_section_once_and_branching_gives_the_new_objective(pair):
    """Resuming an A run as B lists one line for B's settings, never a ``None ->`` line per
    key; and the branch the message advises (A's config.json as --config, --objective B)
    trains B's objective section exactly (its scheme, family and settings, not A's)."""
    from dfmgan.config import differences

    a_name, b_name = pair
    a = build_config("digits", overrides={"objective": {"name": a_name}})
    b = build_config("digits", overrides={"objective": {"name": b_name}})
    diff = differences(a, b)
    assert not [d for d in diff if "None ->" in d or "-> None" in d], diff
    assert len([d for d in diff if d.startswith(f"objective.{b_name}")]) <= 1
    assert (f"objective.name: {a_name!r} -> {b_name!r}" in diff) == (a_name != b_name)
    branched = build_config("digits", file=a.to_dict(), overrides={"objective": {"name": b_name}})
    assert branched.objective == b.objective
    # outside the objective's section the file's values are as given, explicit: a branch
    # into wgan-gp keeps A's optimizer unless the flags change it
    assert branched.optim == a.optim and branched.net == a.net
