"""`dfmgan study`: the spec, the aggregation by hand, and a study killed mid-way."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import run_cli
from hypothesis import given, settings, strategies as st

from dfmgan.tools.study_report import aligned, at_budget, grad_ratio, line_colors, plot, run_curves, table

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only

SPEC = """
preset: stacked-digits
set: {steps: 12, eval_every: 4, eval_n: 300, batch_size: 16, log_every: 2,
      checkpoint_every: 2, net.g_width: 8, net.d_width: 8, grid: 16, sample_every: 1000}
seeds: 1
settings:
  gan: {objective.name: gan}
  dfm-x1000: {objective: {name: dfm, dfm: {lambda_scale: 1000}}, ema: 64}
budgets: [4, 12]
jobs: 1
"""


def test_curves_by_hand():
    rows = [{"step": 2, "loss/D": 1.0, "dfm/grad_ratio": 0.5},
            {"step": 4, "eval/fid": 9.0, "eval/best_fid": 9.0, "eval_raw/fid": 10.0,
             "dfm/grad_ratio": 0.3},
            {"step": 8, "eval/fid": 7.0, "eval/best_fid": 7.0, "eval_raw/fid": 8.0}]
    assert run_curves(rows) == {"": {"fid": {4: 9.0, 8: 7.0}}, " (no EMA)": {"fid": {4: 10.0, 8: 8.0}}}
    assert grad_ratio(rows) == 0.3  # the mean over the last fifth (here: the last value)
    c = aligned([{4: 9.0, 8: 7.0}, {4: 11.0, 8: 5.0, 12: 1.0}])  # step 12: one seed only
    assert c["step"] == [4, 8, 12] and c["mean"] == [10.0, 6.0, 1.0] and c["n"] == [2, 2, 1]
    assert c["std"] == pytest.approx([2 ** 0.5, 2 ** 0.5, 0.0])
    assert at_budget(c, 7) == (10.0, pytest.approx(2 ** 0.5), 2, 4) and at_budget(c, 3) is None
    assert at_budget(aligned([{4: 9.0}, {4: 7.0}]), 8) is None  # not reached yet: no stale value
    series = {"gan": {"batch": 16, "seeds": [0, 1], "grad_ratio": [], "curves": {"fid": c}}}
    text = table(series, [4, 8, 12, 16])
    assert "| gan | 2 | 10.000 ± 1.414 | 6.000 ± 1.414 | 1.000 (n=1) | – | – |" in text
    # a budget between two evaluations reads the earlier one and names its step
    assert "| gan | 2 | 10.000 ± 1.414 (at 4) | 6.000 ± 1.414 |" in table(series, [6, 8])


def test_line_colors_one_per_setting_shared_with_its_raw_line():
    names = [f"s{i}" for i in range(15)] + ["s3 (no EMA)"]
    colors = line_colors(names)
    assert len({colors[f"s{i}"] for i in range(15)}) == 15  # past tab10's 10: none repeats
    assert colors["s3 (no EMA)"] == colors["s3"]
    few = line_colors(["gan", "gan (no EMA)", "dfm"])
    assert few["gan"] == few["gan (no EMA)"] != few["dfm"]


def test_plot_wraps_panels_four_to_a_row_and_leaves_out_spreads(tmp_path):
    from PIL import Image

    curve = aligned([{4: 9.0, 8: 7.0}])
    names = ["fid", "is", "is_std", "kid", "kid_std", "precision", "recall"]
    series = {"gan": {"batch": 16, "seeds": [0], "grad_ratio": [],
                      "curves": {m: curve for m in names}}}
    plot(series, tmp_path / "c.png")
    # 5 panels (the two *_std left out): 4 columns x 2 rows of 5 x 3.8 inches at 110 dpi
    assert Image.open(tmp_path / "c.png").size == (2200, 836)


@pytest.mark.parametrize("spec, needle", [
    ("settings: {}", "needs settings"),
    ("settings: {a: {steps: 0.5}}", "whole number"),
    ("settings: {a: {objective.name: gan}}\nbogus: 1", "unknown study key"),
    ("settings: {'a/b': {}}", "setting name"),
    ("settings: {a: {}}\nseeds: -1", "seeds"),
    ("settings: {a: {}}\nbudgets: [99999999]", "budgets"),
    ("settings: {a: {net.size: 33}}", "image size"),
])
def test_bad_specs_fail_before_any_run(tmp_path, spec, needle):
    (tmp_path / "spec.yaml").write_text(spec)
    r = run_cli("study", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and needle in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def study(tmp_path, name) -> list[str]:
    (tmp_path / "spec.yaml").write_text(SPEC)
    return [sys.executable, "-m", "dfmgan", "study", str(tmp_path / "spec.yaml"),
            "--out", str(tmp_path / name), "--no-progress"]


def untimed_curves(curves: dict) -> dict:
    """curves.json without its wall clocks (each run's, and the time-to-quality table's)."""
    return {"budgets": curves["budgets"], "series": {n: {k: v for k, v in s.items() if k != "clock"}
                                                     for n, s in curves["series"].items()}}


def test_killed_study_rerun_gives_the_same_results(tmp_path):
    r = subprocess.run(study(tmp_path, "a"), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "dfm-x1000 (no EMA)" in r.stdout and (tmp_path / "a" / "curves.png").stat().st_size > 0
    # the same study, killed outright (the whole process group) once the second run has a
    # checkpoint past its first evaluation, then run again
    p = subprocess.Popen(study(tmp_path, "b"), start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "b" / "dfm-x1000-s0" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and not any(ckpt.glob("state-0000000[6-9].pt")):
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert any(ckpt.glob("state-*.pt")) and not any(ckpt.glob("state-00000012.pt"))
    r = subprocess.run(study(tmp_path, "b"), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    # the rerun names what it skips and what it resumes
    assert "runs already done, skipped: gan-s0" in r.stdout, r.stdout
    assert "study: resuming dfm-x1000-s0 (step " in r.stdout, r.stdout
    a, b = (untimed_curves(json.loads((tmp_path / x / "curves.json").read_text())) for x in "ab")
    assert a == b and a["series"]["dfm-x1000"]["curves"]["modes"]["step"] == [4, 8, 12]
    assert [list(json.loads((tmp_path / x / "curves.json").read_text())["series"]["gan"]["clock"]["0"])
            for x in "ab"] == [[str(s) for s in range(2, 13, 2)]] * 2  # both have their clocks
    tables = [(tmp_path / x / "table.md").read_text().split("**time to quality**")[0] for x in "ab"]
    assert tables[0] == tables[1]
    # the run that had finished before the kill was not trained again
    assert (tmp_path / "b" / "logs" / "gan-s0.log").read_text().count("done:") == 1
    # a finished run's light files (what git keeps: no checkpoints, no weights) still count
    import shutil
    for name in ("checkpoints", "best"):
        shutil.rmtree(tmp_path / "b" / "gan-s0" / name, ignore_errors=True)
    r = subprocess.run(study(tmp_path, "b"), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b" / "logs" / "gan-s0.log").read_text().count("done:") == 1
    assert untimed_curves(json.loads((tmp_path / "b" / "curves.json").read_text())) == a
    # a run stopped by a signal right at its last step has no marker yet: the rerun writes
    # it (so git keeps a finished run) and trains nothing
    (tmp_path / "b" / "dfm-x1000-s0" / "done.json").unlink()
    r = subprocess.run(study(tmp_path, "b"), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "b" / "dfm-x1000-s0" / "done.json").read_text()) == {"steps": 12}
    assert (tmp_path / "b" / "logs" / "dfm-x1000-s0.log").read_text().count("done:") == 1
    # a spec changed under existing runs is refused, naming the difference
    (tmp_path / "spec.yaml").write_text(SPEC.replace("lambda_scale: 1000", "lambda_scale: 10"))
    r = run_cli("study", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "b"))
    assert r.returncode == 2 and "objective.dfm.lambda_scale: 1000.0 -> 10.0" in r.stderr, r.stderr



@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.integers(0, 10**6), min_size=1, max_size=60),
       cut=st.floats(0, 1, exclude_max=True), pad=st.integers(0, 3000))
def test_last_step_reads_the_last_whole_row(tmp_path_factory, steps, cut, pad):
    """The study's progress poll: the step of the last whole row, past a row a kill cut
    short at any point, wherever the tail it reads begins (rows up to 3 kB long)."""
    from dfmgan.training.stats import last_step

    path = tmp_path_factory.mktemp("stats") / "stats.jsonl"
    row = lambda s: json.dumps({"step": s, "pad": "x" * pad, "loss/D": 0.5}) + "\n"
    torn = row(10**7)[:int(cut * (len(row(10**7)) - 1))]  # never the whole line
    path.write_text("".join(map(row, steps)) + torn)
    assert last_step(path, tail=4096) == steps[-1]
    path.write_text(torn)
    assert last_step(path, tail=4096) is None


@pytest.mark.parametrize("launcher, why", [
    ("pbs", "study launcher must be one of"), ({"name": "slurm", "queue": "x"}, "unknown launcher key 'queue'"),
    ({"name": "slurm", "gpus": -1}, "launcher gpus must be a whole number"),
    ({"name": "slurm", "partition": ""}, "launcher partition must be a name"),
    ({"name": "slurm", "time_min": 1.5}, "launcher time_min must be a whole number"), (["slurm"], "must be one of")])
def test_a_bad_launcher_is_refused_before_any_run(tmp_path, launcher, why):
    from dfmgan.errors import ConfigError
    from dfmgan.tools.study import load_study

    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"preset": "digits", "settings": {"gan": {}}, "launcher": launcher}))
    with pytest.raises(ConfigError, match=why):
        load_study(spec, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_spec_names_its_cluster_resources(tmp_path):
    from dfmgan.tools.study import load_study

    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"preset": "digits", "settings": {"gan": {}}, "launcher": {
        "name": "slurm", "partition": "gpu", "time_min": 240, "gpus": 1, "cpus": 8}}))
    study = load_study(spec, tmp_path / "out")
    assert study.launcher == "slurm" and study.launch == {"partition": "gpu", "time_min": 240, "gpus": 1, "cpus": 8}


def test_time_to_quality_by_hand():
    """Marks 2x, 1.5x and 1x the gan's final mean FID (10): 20, 15, 10. gan seed 0 reaches
    20 at step 2 (clock 4 s), 15 and 10 at step 3 (9 s); seed 1 reaches 20 at step 1
    (1 s) and never 15. dfm reaches all three at step 2 (2 s) on its one seed."""
    from dfmgan.tools.study_report import time_table, time_to_quality

    def series(per_seed, clocks):
        return {"seeds": list(range(len(per_seed))), "clock": {str(i): c for i, c in enumerate(clocks)},
                "curves": {"fid": {"step": [1, 2, 3], "mean": [0, 0, sum(p["3"] for p in per_seed) / len(per_seed)],
                                   "per_seed": per_seed}}}
    got = time_to_quality({
        "gan": series([{"1": 30.0, "2": 18.0, "3": 4.0}, {"1": 19.0, "2": 17.0, "3": 16.0}],
                      [{1: 2.0, 2: 4.0, 3: 9.0}, {1: 1.0, 2: 3.0, 3: 5.0}]),
        "dfm": series([{"1": 25.0, "2": 9.0, "3": 8.0}], [{1: 1.0, 2: 2.0, 3: 3.0}])})
    assert got["reference"] == ["gan", 10.0] and got["marks"] == [20.0, 15.0, 10.0]
    assert got["rows"]["gan"] == [(2.5, 2), (9.0, 1), (9.0, 1)]
    assert got["rows"]["dfm"] == [(2.0, 1), (2.0, 1), (2.0, 1)]
    text = time_table(got, {"gan": 2, "dfm": 1})
    assert "| gan | 2.5 s | 9 s (1/2) | 9 s (1/2) |" in text and "fid ≤ 10.00 (gan's final)" in text


@settings(max_examples=40, deadline=None)
@given(every=st.integers(1, 50), n_evals=st.integers(1, 8), budget=st.integers(1, 400))
def test_a_budget_reads_the_last_evaluation_before_it_and_names_its_step(every, n_evals, budget):
    steps = [every * (i + 1) for i in range(n_evals)]
    c = aligned([{s: float(s) for s in steps}])  # the score is its own step
    got = at_budget(c, budget)
    if budget > steps[-1] or budget < steps[0]:
        assert got is None
        return
    last = max(s for s in steps if s <= budget)
    assert got == (float(last), 0.0, 1, last)
    series = {"x": {"batch": 1, "seeds": [0], "grad_ratio": [], "curves": {"fid": c}}}
    row = next(r for r in table(series, [budget]).splitlines() if r.startswith("| x |"))
    assert (f"(at {last:,})" in row) == (last != budget)


def test_only_trains_the_matching_runs_and_a_glob_matching_none_is_refused(tmp_path):
    r = subprocess.run(study(tmp_path, "o") + ["--only", "dfm-*"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "o"
    assert (out / "dfm-x1000-s0" / "done.json").exists() and not (out / "gan-s0").exists()
    assert "| dfm-x1000 |" in r.stdout and "| gan |" not in r.stdout  # results: the runs there are
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    for bad in ("gan-s9", "dfm", " , "):  # no such run; a setting's name is not a run's; empty
        r = run_cli("study", str(tmp_path / "spec.yaml"), "--out", str(out), "--only", bad)
        assert r.returncode == 2 and "--only" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # nothing touched


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.5, 50.0), min_size=1, max_size=3), st.floats(1e-4, 3.0))
def test_a_table_shows_a_spread_only_where_seeds_give_one(values, ratio):
    """One seed: the value alone (no '± 0.000'); several: mean ± std. A metric's own spread
    within an evaluation (kid_std) gets no table; the gradient ratio keeps 3 figures."""
    curve = aligned([{4: v} for v in values])
    std = aligned([{4: 0.01} for _ in values])
    series = {"dfm": {"batch": 16, "seeds": list(range(len(values))), "grad_ratio": [ratio],
                      "curves": {"kid": curve, "kid_std": std}}}
    text = table(series, [4])
    row = next(l for l in text.splitlines() if l.startswith("| dfm |"))
    assert ("±" in row) == (len(values) > 1) and ("± std" in text) == (len(values) > 1)
    assert "kid_std" not in text and text.count("**kid**") == 1
    assert row.rstrip(" |").endswith(f"{ratio:.3g}")
