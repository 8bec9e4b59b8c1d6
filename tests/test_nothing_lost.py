"""Nothing lost (issue 26), by class: no writer replaces a link or a device node or lands on a
run's own files; study adopts only its own runs and deletes nothing; resume never rewrites
the record; export swaps whole folders; a checkpoint whose digest holds but whose contents
do not is skipped like a corrupt one; nested files end in one line; a state that turned
non-finite while every loss stayed finite stops the run."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import torch
from conftest import TINY_FLAGS, minimal_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dfmgan.checkpoint import is_state, load_latest_state, read_state, state_paths, write_state
from dfmgan.cli import main
from dfmgan.errors import CheckpointError
from dfmgan.reading import TooDeep, check_depth, parse_json

TRAIN = ["train", "--preset", "digits", *TINY_FLAGS]


def call(argv: list[str]) -> tuple[int, str]:
    """``dfmgan ARGV`` in this process: (status, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def fingerprint(root: Path) -> dict:
    """Every entry under ``root`` (links not followed): kind, link target, content hash."""
    out = {}
    for p in sorted([root, *root.rglob("*")]):
        st_ = os.lstat(p)
        if stat.S_ISLNK(st_.st_mode):
            out[str(p)] = ("link", os.readlink(p))
        elif stat.S_ISREG(st_.st_mode):
            out[str(p)] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
        else:
            out[str(p)] = (stat.S_IFMT(st_.st_mode), None)
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lost") / "run"
    code, err = call([*TRAIN, "--out", str(out), "--steps", "4", "--checkpoint-every", "2"])
    assert code == 0, err
    return out


def make_target(kind: str, where: Path, run: Path, suffix: str = "") -> Path:
    """A path an output must not replace: a device node, a FIFO, a link to a file or a
    folder, or one of a run's own files; named with ``suffix`` (what the writer expects)."""
    where.mkdir(parents=True, exist_ok=True)
    keep = where / "keep.txt"
    keep.write_text("not dfmgan's")
    if kind == "chardev":
        p = where / f"node{suffix}"
        try:
            os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
        except PermissionError:
            pytest.skip("mknod needs root")
        return p
    if kind == "fifo":
        os.mkfifo(where / f"fifo{suffix}")
        return where / f"fifo{suffix}"
    if kind == "link-file":
        (where / f"link{suffix}").symlink_to(keep)
        return where / f"link{suffix}"
    if kind == "link-dir":
        (where / "dir").mkdir()
        (where / "dir" / "theirs.txt").write_text("theirs")
        (where / f"linkdir{suffix}").symlink_to(where / "dir")
        return where / f"linkdir{suffix}"
    return run / kind  # a run's own file: config.json, stats.jsonl, generator.json, ...


# every command that writes: (the suffix its output takes, its argv with the output at T)
WRITERS = {
    "sample-png": (".png", lambda r, t: ["sample", str(r), "--n", "4", "--out", str(t)]),
    "sample-npz": (".npz", lambda r, t: ["sample", str(r), "--n", "4", "--out", str(t)]),
    "sample-folder": ("", lambda r, t: ["sample", str(r), "--n", "4", "--out", str(t)]),
    "eval": (".jsonl", lambda r, t: ["eval", str(r), "--n", "20", "--metrics", "fid",
                                     "--no-progress", "--out", str(t)]),
    "report": (".html", lambda r, t: ["report", str(r), "--out", str(t)]),
    "probe": (".json", lambda r, t: ["probe", str(r), "--labels", "all", "--baselines",
                                     "pixels", "--out", str(t)]),
    "export": ("", lambda r, t: ["export", str(r), "--out", str(t)]),
    "reference": (".safetensors", lambda r, t: ["reference", "digits", "--n", "20", "--out",
                                                str(t), "--no-progress"]),
    "interpolate": (".png", lambda r, t: ["interpolate", str(r), "--points", "2", "--steps",
                                          "2", "--out", str(t)]),
    "visualize": (".png", lambda r, t: ["visualize", str(r), "--units", "2", "--out", str(t)]),
    "arithmetic": (".png", lambda r, t: ["arithmetic", str(r), "--a", "0", "--b", "1", "--c", "2",
                                         "--sheet-n", "4", "--out", str(t)]),
    "ablate": (".png", lambda r, t: ["ablate", str(r), "--boxes", str(r.parent / "boxes.json"),
                                     "--sheet-n", "4", "--n", "2", "--out", str(t)]),
    "dedup": ("", lambda r, t: ["dedup", "digits", "--out", str(t), "--steps", "2"]),
    "study": ("", lambda r, t: ["study", str(r.parent / "spec.json"), "--out", str(t),
                                "--no-progress"]),
    "train": ("", lambda r, t: [*TRAIN, "--steps", "1", "--out", str(t)]),
}
TARGETS = ["chardev", "fifo", "link-file", "link-dir", "config.json", "stats.jsonl",
           "generator.json", "checkpoints"]


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_no_writer_replaces_a_node_a_link_or_a_runs_own_file(run, tmp_path, writer, kind):
    victim = tmp_path / "victim"
    shutil.copytree(run, victim)
    (tmp_path / "spec.json").write_text(json.dumps(SPEC))
    (tmp_path / "boxes.json").write_text(json.dumps({"0": [[0, 0, 8, 8]]}))
    suffix, argv = WRITERS[writer]
    target = make_target(kind, tmp_path / "place", victim, suffix)
    before = {**fingerprint(tmp_path / "place"), **fingerprint(victim)}
    code, err = call(argv(victim, target))
    assert code == 2, (writer, kind, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert {**fingerprint(tmp_path / "place"), **fingerprint(victim)} == before


@pytest.mark.parametrize("kind", ["chardev", "fifo", "link-file"])
def test_the_atomic_rename_itself_refuses_a_node_or_a_link(tmp_path, kind):
    from dfmgan.files import WriteError, atomic_write

    target = make_target(kind, tmp_path, tmp_path)
    before = fingerprint(tmp_path)
    with pytest.raises(WriteError) as e:
        atomic_write(target, b"new")
    assert "never replaces" in str(e.value)
    assert fingerprint(tmp_path) == before


def test_eval_and_report_may_write_their_own_run_files(run, tmp_path):
    victim = tmp_path / "victim"
    shutil.copytree(run, victim)
    assert call(["eval", str(victim), "--n", "20", "--metrics", "fid", "--no-progress",
                 "--out", str(victim / "metrics.jsonl")])[0] == 0
    assert call(["report", str(victim), "--out", str(victim / "report.html")])[0] == 0
    code, err = call(["report", str(victim), "--out", str(victim / "probe.json")])
    assert code == 2 and "own probe" in err


# --- study --------------------------------------------------------------------------------
SPEC = {"preset": "digits", "set": {"steps": 2, "batch_size": 16, "log_every": 1,
                                    "net.g_width": 8, "net.d_width": 8, "grid": 4},
        "seeds": 1, "settings": {"gan": {"objective.name": "gan"}}, "budgets": [2]}


def spec_file(tmp_path: Path) -> Path:
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(SPEC))
    return p


@pytest.mark.parametrize("case", ["foreign-file", "link-to-folder", "file", "other-config"])
def test_study_adopts_only_its_own_runs_and_deletes_nothing(tmp_path, case):
    out = tmp_path / "study"
    folder = out / "gan-s0"
    out.mkdir()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("years of work")
    if case == "foreign-file":
        folder.mkdir()
        (folder / "notes.txt").write_text("mine")
    elif case == "link-to-folder":
        folder.symlink_to(theirs)
    elif case == "file":
        folder.write_text("a file")
    else:
        code, err = call([*TRAIN, "--out", str(folder), "--steps", "1", "--seed", "9"])
        assert code == 0, err
    before = {**fingerprint(out), **fingerprint(theirs)}
    code, err = call(["study", str(spec_file(tmp_path)), "--out", str(out), "--no-progress"])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert {**fingerprint(out), **fingerprint(theirs)} == before


def test_a_study_run_killed_before_its_first_checkpoint_resumes_in_place(tmp_path):
    from dfmgan.tools.study import load_study

    out = tmp_path / "study"
    study = load_study(spec_file(tmp_path), out)
    run_ = study.runs[0]
    run_.folder.mkdir(parents=True)
    (run_.folder / "config.json").write_text(run_.cfg.to_json())  # as a run killed at once
    code, err = call(["study", str(spec_file(tmp_path)), "--out", str(out), "--no-progress"])
    assert code == 0, err
    assert state_paths(run_.folder)[-1][0] == 2


# --- resume -------------------------------------------------------------------------------
def test_resume_with_fewer_steps_than_done_rewrites_nothing(run, tmp_path):
    victim = tmp_path / "victim"
    shutil.copytree(run, victim)
    before = fingerprint(victim)
    code, err = call(["train", "--resume", str(victim), "--steps", "2", "--no-progress"])
    assert code == 2 and "has done 4 steps" in err, err
    assert fingerprint(victim) == before


@pytest.mark.parametrize("what", ["checkpoints", "samples"])
def test_resume_refuses_a_run_whose_folders_are_files(run, tmp_path, what):
    victim = tmp_path / "victim"
    shutil.copytree(run, victim)
    shutil.rmtree(victim / what)
    (victim / what).write_text("not a folder")
    before = fingerprint(victim)
    code, err = call(["train", "--resume", str(victim), "--steps", "6", "--no-progress"])
    assert code == 2 and what in err, err
    assert fingerprint(victim) == before  # stats.jsonl not cut, config not rewritten


# --- export -------------------------------------------------------------------------------
def test_export_replaces_its_own_export_whole_and_refuses_anything_else(run, tmp_path):
    out = tmp_path / "share"
    assert call(["export", str(run), "--out", str(out), "--license", "MIT"])[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "generator.json",
                                                      "generator.safetensors"]
    assert call(["export", str(run), "--out", str(out), "--license", "CC-BY-4.0"])[0] == 0
    assert "CC-BY-4.0" in (out / "README.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left
    (out / "mine.txt").write_text("mine")
    before = fingerprint(out)
    code, err = call(["export", str(run), "--out", str(out)])
    assert code == 2 and "did not write" in err
    assert fingerprint(out) == before


def test_a_failed_export_leaves_the_old_one_whole(run, tmp_path, monkeypatch):
    import dfmgan.tools.export as export_mod
    from dfmgan.files import WriteError

    out = tmp_path / "share"
    assert call(["export", str(run), "--out", str(out), "--license", "MIT"])[0] == 0
    before = fingerprint(out)
    real = export_mod.atomic_write

    def full_disk(path, data):
        if Path(path).name == "README.md":
            raise WriteError(f"cannot write {path}: No space left on device")
        return real(path, data)

    monkeypatch.setattr(export_mod, "atomic_write", full_disk)
    code, err = call(["export", str(run), "--out", str(out), "--license", "CC0"])
    assert code == 2 and "No space" in err
    assert fingerprint(out) == before and "MIT" in (out / "README.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- checkpoints whose digest holds but whose contents do not -------------------------------
MUTATIONS = ["drop-config", "drop-objective", "drop-rng", "step-negative", "step-huge",
             "step-string", "step-bool", "rng-short", "rng-float", "module-string",
             "nan-weight", "inf-adam", "sampler-string", "config-not-json", "config-list",
             "ema-inf", "t-negative"]


def mutate(state: dict, how: str) -> dict:
    s = {**state, "objective": dict(state["objective"]), "rng": dict(state["rng"])}
    s["objective"]["modules"] = {k: dict(v) for k, v in state["objective"]["modules"].items()}
    key = how.split("-")[0]
    if how.startswith("drop"):
        s.pop(how.split("-", 1)[1])
    elif key == "step":
        s["step"] = {"negative": -3, "huge": 10 ** 15, "string": "400", "bool": True}[how[5:]]
    elif how == "rng-short":
        s["rng"]["torch"] = s["rng"]["torch"][:100]
    elif how == "rng-float":
        s["rng"]["z"] = s["rng"]["z"].float()
    elif how == "module-string":
        s["objective"]["modules"]["G"]["w"] = "weights"
    elif how == "nan-weight":
        s["objective"]["modules"]["G"]["w"] = torch.tensor([1.0, float("nan")])
    elif how == "inf-adam":
        s["objective"]["optimizers"] = {"G": {"state": {0: {"exp_avg_sq": torch.tensor([float("inf")])}}}}
    elif how == "sampler-string":
        s["sampler"] = {"epoch": "zero", "position": 1}
    elif how == "config-not-json":
        s["config"] = "{not json"
    elif how == "config-list":
        s["config"] = "[1, 2]"
    elif how == "ema-inf":
        s["ema"] = {"w": torch.tensor([float("-inf")])}
    elif how == "t-negative":
        s["objective"]["t"] = -1
    return s


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=st.sampled_from(MUTATIONS), good_step=st.integers(1, 50))
def test_a_state_with_a_valid_digest_but_wrong_contents_is_skipped_like_a_corrupt_one(
        tmp_path_factory, how, good_step):
    run = tmp_path_factory.mktemp("states")
    (run / "checkpoints").mkdir()
    write_state(run / "checkpoints" / f"state-{good_step:08d}.pt", good_step, minimal_state(good_step))
    bad = mutate(minimal_state(good_step + 1), how)
    step = bad.pop("step", good_step + 1)
    path = run / "checkpoints" / f"state-{good_step + 1:08d}.pt"
    import hashlib as h
    import io as io_

    from dfmgan.checkpoint import FORMAT, HEADER
    buf = io_.BytesIO()
    torch.save({"format": FORMAT, **({"step": step} if how != "drop-step" else {}), **bad}, buf)
    payload = buf.getvalue()
    path.write_bytes(HEADER + h.sha256(payload).hexdigest().encode() + b"\n" + payload)
    with pytest.raises(CheckpointError) as e:
        read_state(path)
    assert "\n" not in str(e.value)
    assert not is_state(path)  # never counts towards --keep
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert load_latest_state(run)["step"] == good_step
    assert err.getvalue().count("\n") == 1 and "skipping" in err.getvalue()


# --- nesting ----------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(depth=st.integers(33, 5000), kind=st.sampled_from(["list", "dict"]))
def test_deep_json_is_a_value_error_never_a_recursion_error(depth, kind):
    text = ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)
    with pytest.raises(TooDeep):
        parse_json(text)


def test_a_recursive_anchor_is_refused():
    a: dict = {}
    a["self"] = a
    with pytest.raises(TooDeep):
        check_depth(a)
    check_depth({"a": [{"b": 1}], "c": [[1]]})  # shallow: fine


@pytest.mark.parametrize("victim", ["config.json", "generator.json", "best.json", "spec",
                                    "spec-anchor"])
def test_a_deeply_nested_file_is_one_line(run, tmp_path, victim):
    v = tmp_path / "victim"
    shutil.copytree(run, v)
    deep = '{"a":' * 3000 + "1" + "}" * 3000
    if victim in ("config.json", "generator.json"):
        (v / victim).write_text(deep)
        argv = ["train", "--resume", str(v), "--steps", "6", "--no-progress"] \
            if victim == "config.json" else ["sample", str(v), "--n", "2", "--out", str(tmp_path / "s.png")]
    elif victim == "best.json":
        (v / "best").mkdir(exist_ok=True)
        (v / "best" / "best.json").write_text(deep)
        argv = ["export", str(v), "--out", str(tmp_path / "share")]
    else:
        spec = tmp_path / "spec.yaml"
        spec.write_text("preset: digits\nsettings: " + deep if victim == "spec" else
                        "preset: digits\nset: &a\n  x: *a\nsettings: {g: {}}\n")
        argv = ["study", str(spec), "--out", str(tmp_path / "study")]
    code, err = call(argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


# --- divergence without a non-finite loss ------------------------------------------------
@pytest.mark.parametrize("where", ["bn-buffer", "adam-moment"])
def test_a_state_gone_non_finite_with_finite_losses_stops_the_run(tmp_path, monkeypatch, where):
    from dfmgan.objectives.gan import GANObjective

    real_step = GANObjective.step

    def step(self, real, z, labels=None):
        out = real_step(self, real, z, labels)
        if self.t >= 3:  # after the checkpoint of step 2: a buffer or moment overflows
            if where == "bn-buffer":
                bn = next(m for m in self.D.modules() if isinstance(m, torch.nn.BatchNorm2d))
                bn.running_var.fill_(float("inf"))
            else:
                st_ = next(iter(self.opt["G"].state.values()))
                st_["exp_avg_sq"].fill_(float("inf"))
        return out

    monkeypatch.setattr(GANObjective, "step", step)
    out = tmp_path / "run"
    code, err = call([*TRAIN, "--out", str(out), "--steps", "6", "--checkpoint-every", "2",
                      "--keep", "1"])
    assert code == 3 and "became NaN or inf" in err and "losses were finite" in err, err
    assert [s for s, _ in state_paths(out)] == [2]
    state = read_state(state_paths(out)[-1][1])  # validated: every tensor finite
    assert state["step"] == 2
    from safetensors.torch import load_file
    for name in ("generator.safetensors", "discriminator.safetensors"):
        assert all(torch.isfinite(t).all() for t in load_file(out / name).values()
                   if t.is_floating_point())


# --- eval --out on a full disk -----------------------------------------------------------
def test_a_failed_eval_append_names_the_file_and_leaves_it_whole(run, tmp_path, monkeypatch):
    import dfmgan.files as files

    out = tmp_path / "m.jsonl"
    out.write_text('{"written_by": "dfmgan", "fid": 1.0, "provenance": {}}\n')  # an earlier eval's
    before = out.read_bytes()

    def no_space(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", no_space)
    code, err = call(["eval", str(run), "--n", "20", "--metrics", "fid", "--no-progress",
                      "--out", str(out)])
    assert code == 2 and "m.jsonl" in err and "No space" in err, err
    assert out.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


# --- values read from files, mutated by structure ------------------------------------------
def mutations_of(doc: dict):
    """(path of keys, new value or DROP) for every leaf of ``doc``: what a damaged or
    hostile file could hold there."""
    for key, value in doc.items():
        if isinstance(value, dict):
            for sub, v in mutations_of(value):
                yield (key, *sub), v
        else:
            yield (key,), value


DROP = object()
BAD_VALUES = [DROP, None, "x", -1, 10 ** 12, 8.5, float("nan"), [1], {"a": 1}, True]


def apply(doc: dict, keys: tuple, value) -> dict:
    import copy

    out = copy.deepcopy(doc)
    node = out
    for k in keys[:-1]:
        node = node[k]
    if value is DROP:
        node.pop(keys[-1])
    else:
        node[keys[-1]] = value
    return out


def mutated_run(run: Path, factory, data, name: str, keep=lambda keys: True,
                values=BAD_VALUES) -> tuple[Path, bool]:
    """A copy of ``run`` whose JSON file ``name`` has one leaf dropped or replaced, as drawn
    by hypothesis; (the copy, whether the file changed at all)."""
    v = factory.mktemp("mutated") / "run"
    shutil.copytree(run, v)
    doc = json.loads((v / name).read_text())
    keys = data.draw(st.sampled_from([k for k, _ in mutations_of(doc) if keep(k)]))
    mutated = apply(doc, keys, data.draw(st.sampled_from(values)))
    (v / name).write_text(json.dumps(mutated))
    return v, mutated != doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_snapshot_config_is_one_line_and_changes_nothing(run, tmp_path_factory, data):
    v, _ = mutated_run(run, tmp_path_factory, data, "generator.json")
    before = fingerprint(v)
    code, err = call(["sample", str(v), "--n", "2", "--out", str(v.parent / "s.png")])
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
    if code != 0:  # a value that is still valid (a dropped "preset", say) may sample fine
        assert code == 2 and not (v.parent / "s.png").exists()
    assert fingerprint(v) == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_config_json_refuses_resume_and_changes_nothing(run, tmp_path_factory, data):
    v, changed = mutated_run(run, tmp_path_factory, data, "config.json",
                             keep=lambda k: k[0] not in ("steps", "device") and "root" not in k,
                             values=[x for x in BAD_VALUES if x is not DROP])
    if not changed:
        return
    before = fingerprint(v)
    code, err = call(["train", "--resume", str(v), "--steps", "4", "--no-progress"])
    assert "Traceback" not in err and code in (0, 2), ((v / "config.json").read_text()[:300], err)
    if code == 2:  # refused: in one line, with nothing on disk changed
        assert len(err.strip().splitlines()) == 1, err
        assert fingerprint(v) == before
    else:  # still a valid config (a string where any string will do): resumed, 4 of 4 done
        assert state_paths(v)[-1][0] == 4


@pytest.mark.parametrize("labels", [["cat"] * 2, [-1, 3], [10 ** 30, 1], [1.5, 2.0], [True, 1]])
def test_cifar_labels_are_range_checked(tmp_path, labels):
    import pickle

    import numpy as np

    from dfmgan.data import load_dataset
    from dfmgan.errors import DataError

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                 "test_batch"]:
        batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": labels}
        (folder / name).write_bytes(pickle.dumps(batch))
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", tmp_path)
    assert "labels" in str(e.value) and "\n" not in str(e.value)


@settings(max_examples=50, deadline=None)
@given(lines=st.lists(st.text(min_size=0, max_size=80), min_size=1, max_size=12),
       path=st.text(min_size=1, max_size=20))
def test_every_error_message_is_one_line(lines, path):
    from dfmgan.cli import MAX_MESSAGE, one_line

    text = one_line("\n".join(lines) + f" at {Path('/x') / path!r}")
    assert "\n" not in text and "\r" not in text and len(text) <= MAX_MESSAGE
    assert "PosixPath(" not in text or "'" in path


def test_a_failing_compile_cache_is_retried_fresh_then_one_line(monkeypatch, capsys):
    from dfmgan.errors import DfmganError
    from dfmgan.training import speed

    Broken = type("CacheError", (RuntimeError,), {"__module__": "torch._inductor.codecache"})
    calls = {"n": 0}

    def step(*a):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise Broken("corrupt cache entry")
        return "ok"

    monkeypatch.setattr(speed.torch._dynamo, "reset", lambda: None)
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    failures = 1
    assert speed.guarded(step)() == "ok"
    assert "retrying with a fresh cache" in capsys.readouterr().err
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"].split("/")[-1].startswith("dfmgan-inductor-")
    calls["n"], failures = 0, 5
    with pytest.raises(DfmganError) as e:
        speed.guarded(step)()
    assert "without --compile" in str(e.value)
    calls["n"], failures = 0, 0
    model_bug = speed.guarded(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # the model's own errors are not the compiler's
        model_bug()


@pytest.mark.parametrize("writer", ["sample", "dedup"])
def test_a_folder_output_never_replaces_a_file_it_did_not_write(run, tmp_path, writer):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / ("000001.png" if writer == "sample" else "groups.json")
    mine.write_text("the user's own")
    argv = ["sample", str(run), "--n", "4", "--out", str(out)] if writer == "sample" else \
        ["dedup", "digits", "--out", str(out), "--steps", "2"]
    code, err = call(argv)
    assert code == 2 and mine.name in err and "new or empty folder" in err, err
    assert sorted(p.name for p in out.iterdir()) == [mine.name] and mine.read_text() == "the user's own"


@settings(max_examples=int(os.environ.get("DFMGAN_FUZZ_EXAMPLES", 40)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_study_spec_is_one_line_or_a_study(tmp_path_factory, data):
    from dfmgan.errors import DfmganError
    from dfmgan.tools.study import load_study

    spec = json.loads(json.dumps(SPEC))
    keys = data.draw(st.sampled_from([k for k, _ in mutations_of(spec)] + [("seeds",), ("budgets",)]))
    value = data.draw(st.sampled_from(BAD_VALUES))
    mutated = apply(spec, keys, value) if keys[0] in spec else {**spec, keys[0]: value}
    where = tmp_path_factory.mktemp("spec")
    (where / "spec.json").write_text(json.dumps(mutated))
    try:
        study = load_study(where / "spec.json", where / "out")
    except DfmganError as e:
        assert "\n" not in str(e)
    else:  # still a valid spec: it names runs, and wrote nothing yet
        assert study.runs and not (where / "out").exists()


def test_a_snapshot_with_an_inf_buffer_is_refused_not_sampled_black(run, tmp_path):
    from safetensors.torch import load_file, save_file

    v = tmp_path / "run"
    shutil.copytree(run, v)
    for name in ("generator.safetensors", "generator_ema.safetensors"):
        if not (v / name).exists():
            continue
        weights = load_file(v / name)
        key = next(k for k in weights if k.endswith("running_var"))
        weights[key] = torch.full_like(weights[key], float("inf"))
        save_file(weights, str(v / name))  # a valid file of someone else's: no digest
    code, err = call(["sample", str(v), "--n", "4", "--bn", "running", "--out", str(tmp_path / "s.png")])
    assert code == 2 and "NaN or inf" in err and not (tmp_path / "s.png").exists(), err


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002, 0o027])
def test_an_export_folder_has_the_mode_mkdir_would_give(run, tmp_path, umask):
    """Not mkdtemp's 0o700: a shared export must be readable where the umask allows."""
    old = os.umask(umask)
    try:
        out = tmp_path / f"share-{umask:o}"
        assert call(["export", str(run), "--out", str(out)])[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask for p in out.iterdir())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghij._", min_size=1, max_size=30), min_size=30, max_size=80))
def test_a_long_message_is_cut_at_the_end_of_a_word(words):
    from dfmgan.cli import MAX_MESSAGE, one_line

    text = one_line(" ".join(words))
    assert len(text) <= MAX_MESSAGE
    if text != " ".join(words):
        kept = text.removesuffix(" …").split(" ")
        assert kept == words[:len(kept)]  # whole words only, in order


@settings(max_examples=15, deadline=None)
@given(st.sets(st.sampled_from(["batch_size", "seed", "optim.lr", "optim.beta1", "ema", "grid",
                                "sample_bn", "net.latent", "objective.augment", "objective.r1"]),
               min_size=1))
def test_a_resume_refusal_names_every_resumable_setting_whole(tmp_path_factory, changed):
    """However many settings differ, the refusal fits one line and lists every setting a
    resume may change, none cut (it once ended in 'speed.compil...')."""
    from dfmgan.cli import MAX_MESSAGE, one_line
    from dfmgan.config import RESUMABLE
    from dfmgan.errors import ConfigError
    from dfmgan.resolver import build_config
    from dfmgan.training.rundir import RunDir

    run = RunDir(tmp_path_factory.mktemp("run") / ("r" * 60) / "a-run-folder-with-a-long-name")
    run.create(build_config("digits"))
    values = {"batch_size": 32, "seed": 7, "optim.lr": 1e-3, "optim.beta1": 0.1, "ema": 100.0,
              "grid": 9, "sample_bn": "running", "net.latent": "normal",
              "objective.augment": "color", "objective.r1": 1.0}
    with pytest.raises(ConfigError) as e:
        run.check_resume(build_config("digits", overrides={k: values[k] for k in changed}))
    text = one_line(str(e.value))
    assert len(text) <= MAX_MESSAGE  # a very long path may cut the advice's tail, never the list
    listed = text.split("may change only ", 1)[1].split(". Branch", 1)[0]
    assert sorted(listed.split(", ")) == sorted(RESUMABLE)


# --- outputs through links: the real path decides (issue 46) -------------------------------

def link_targets(run: Path, base: Path) -> dict:
    """{name: (an output path that goes through a link, what it really is)}."""
    import dfmgan

    pkg = Path(dfmgan.__file__).parent
    (base / "c").symlink_to(run / "checkpoints")
    (base / "s").symlink_to(run / "samples")
    (base / "l2").symlink_to(run)
    (base / "l1").symlink_to(base / "l2")  # a chain: l1 -> l2 -> the run
    (base / "z").symlink_to(pkg / "zoo")
    (base / "p").symlink_to(pkg)
    newest = sorted((run / "checkpoints").glob("state-*.pt"))[-1].name
    return {"a checkpoint": base / "c" / newest, "the latest grid": base / "s" / "latest.png",
            "stats through a chain": base / "l1" / "stats.jsonl",
            "deep in samples": base / "l1" / "samples" / "sub" / "x.png",
            "the config": base / "l2" / "config.json",
            "inside the zoo": base / "z" / "x.png", "inside the package": base / "p" / "x.json"}


OUTPUT_COMMANDS = {
    "sample": lambda r, t: ["sample", str(r), "--n", "4", "--out", str(t)],
    "eval": lambda r, t: ["eval", str(r), "--metrics", "fid", "--n", "8", "--out", str(t)],
    "report": lambda r, t: ["report", str(r), "--out", str(t)],
}


@settings(max_examples=21, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(OUTPUT_COMMANDS)), st.sampled_from(
    ["a checkpoint", "the latest grid", "stats through a chain", "deep in samples", "the config",
     "inside the zoo", "inside the package"]))
def test_an_output_through_links_never_lands_on_a_run_or_the_package(run, tmp_path_factory, command, target):
    import dfmgan

    base = tmp_path_factory.mktemp("links")
    out = link_targets(run, base)[target]
    pkg = Path(dfmgan.__file__).parent
    before, before_pkg = fingerprint(run), fingerprint(pkg / "zoo")
    code, err = call(OUTPUT_COMMANDS[command](run, out))
    assert code == 2 and err.count("\n") == 1, (command, target, err)
    assert fingerprint(run) == before and fingerprint(pkg / "zoo") == before_pkg
    assert not (pkg / "x.json").exists()


# --- files dfmgan did not write (issue 46): replaced only when they carry its mark ----------

def unmarked(suffix: str, seed: int) -> bytes:
    """A valid file of the kind ``suffix`` names, as another program would write it: the
    same format as dfmgan's output, without dfmgan's mark."""
    import numpy as np
    from PIL import Image
    from safetensors.numpy import save

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    buf = io.BytesIO()
    if suffix in (".png", ".gif"):
        Image.fromarray(pixels).save(buf, format=suffix[1:].upper())
    elif suffix == ".npz":
        np.savez(buf, images=pixels)
    elif suffix == ".safetensors":
        return save({"x": pixels.astype(np.float32)}, metadata={"by": "someone"})
    elif suffix == ".html":
        return f"<!doctype html><html><head><title>{seed}</title></head></html>".encode()
    elif suffix == ".json":
        return json.dumps({"written_by": "someone", "seed": seed}).encode()
    elif suffix == ".jsonl":  # a JSON-lines file one of whose rows is not dfmgan's
        return (json.dumps({"written_by": "dfmgan"}) + "\n" + json.dumps({"seed": seed}) + "\n").encode()
    return buf.getvalue()


# single-file writers: (the suffix of their output, its argv, files they write beside it)
FILE_WRITERS = {name: (*WRITERS[name], ()) for name, (suffix, _) in WRITERS.items() if suffix}
FILE_WRITERS["interpolate"] = (*WRITERS["interpolate"], ("-lerp.gif", "-slerp.gif"))
FILE_WRITERS["ablate"] = (*WRITERS["ablate"], (".json",))


def foreign(draw_kind: str, suffix: str, seed: int, junk: bytes) -> bytes:
    return junk if draw_kind == "bytes" else unmarked(suffix, seed)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(FILE_WRITERS)), st.sampled_from(["bytes", "format"]),
       st.integers(0, 2**16), st.binary(min_size=1, max_size=300), st.data())
def test_no_writer_replaces_a_file_it_did_not_write(run, tmp_path_factory, writer, kind, seed, junk, data):
    """Someone else's file where the output (or a file written beside it) goes, as random
    bytes or as a valid file of the same format: one line, exit 2, every byte kept."""
    base = tmp_path_factory.mktemp("foreign")
    (run.parent / "boxes.json").write_text(json.dumps({"0": [[0, 0, 8, 8]]}))
    suffix, argv, beside = FILE_WRITERS[writer]
    out = base / f"out{suffix}"
    where = data.draw(st.sampled_from(["", *beside]))
    victim = out if not where else base / f"out{where}"
    victim.write_bytes(foreign(kind, Path(victim).suffix, seed, junk))
    before = fingerprint(base)
    code, err = call(argv(run, out))
    assert code == 2 and err.count("\n") == 1 and "did not write" in err, (writer, err)
    assert fingerprint(base) == before


@pytest.mark.parametrize("writer", sorted(FILE_WRITERS))
def test_every_writer_marks_its_files_and_replaces_them_on_a_second_run(run, tmp_path, writer):
    """What a command wrote it may write again (a rerun): its output and the files beside
    it carry the mark, and stay ordinary files of their format for other readers."""
    from dfmgan.marks import ours

    (run.parent / "boxes.json").write_text(json.dumps({"0": [[0, 0, 8, 8]]}))
    suffix, argv, beside = FILE_WRITERS[writer]
    out = tmp_path / f"out{suffix}"
    for attempt in range(2):
        code, err = call(argv(run, out))
        assert code == 0, (writer, attempt, err)
        for path in [out, *(tmp_path / f"out{b}" for b in beside)]:
            assert ours(path), path
            readable(path)


def readable(path: Path) -> None:
    """``path`` opens with its format's usual reader."""
    import numpy as np
    from PIL import Image
    from safetensors.numpy import load_file

    if path.suffix in (".png", ".gif"):
        Image.open(path).load()
    elif path.suffix == ".npz":
        assert np.load(path)["images"].dtype == np.uint8
    elif path.suffix == ".safetensors":
        assert load_file(path)
    elif path.suffix in (".json", ".jsonl", ".html"):
        text = path.read_text()
        assert [json.loads(line) for line in text.splitlines()] if path.suffix == ".jsonl" else text


@pytest.mark.parametrize("suffix", [".png", ".npz", ".json", ".html", ".jsonl"])
def test_an_empty_file_is_no_ones_and_may_be_written(tmp_path, suffix):
    """``mktemp``'s empty file holds nothing to lose: the output policy lets it be written."""
    from dfmgan.files import writable_file

    (tmp_path / f"x{suffix}").write_bytes(b"")
    assert writable_file(tmp_path / f"x{suffix}") == tmp_path / f"x{suffix}"
