"""A property-based fuzz test of the whole CLI (hypothesis). Flag sets for every subcommand
are drawn from the parsers themselves, with values of every kind: zero, negative, NaN,
inf, huge, the wrong type, missing, unwritable and odd paths, a run folder and a snapshot.
Each runs in-process with a time limit. The property: exit 0, or exit 2 with exactly one
line on stderr and no traceback; and a run folder given as input is byte-identical after
any refusal. A command still running at SECONDS passes only once it shows that its checks
are over: it has opened a progress bar (all long work has one, and validation comes
first). One that has not is given up to PATIENCE seconds to finish, and fails past them.

CI runs a fixed, derandomized set (DFMGAN_FUZZ_EXAMPLES, 40 by default); set the variable
higher, and DFMGAN_FUZZ_SEED to explore new cases."""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tiny_run
from dfmgan.cli import SUBCOMMANDS, build_parser, main
from dfmgan.config import TrainConfig, flatten

EXAMPLES = int(os.environ.get("DFMGAN_FUZZ_EXAMPLES", "40"))
SECONDS = 6  # past this, a command at work (its progress bar open) is stopped: it passed its checks
PATIENCE = 60  # a command with no bar open yet gets this long in all to finish
SKIP = {"-h", "--help", "--nproc"}  # --nproc replaces the process (execv) by design

NUMBERS = ["0", "-1", "1", "2", "3", "nan", "inf", "-inf", "1e-3", "1e400", "-0.5",
           "99999999999999999999", "0x10", "", "abc", "1,2", "1e9"]


class Budget(BaseException):
    """The time limit: the command got past its checks and is working."""


class Overtime(BaseException):
    """PATIENCE seconds and still no progress bar, nor an exit."""


BARS: list[str] = []  # the progress bars opened by the command under test


@pytest.fixture(autouse=True)
def count_bars(monkeypatch):
    import tqdm

    opened = tqdm.tqdm.__init__

    def init(self, *a, **kw):
        BARS.append(str(kw.get("desc", "")))
        opened(self, *a, **kw)

    monkeypatch.setattr(tqdm.tqdm, "__init__", init)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    run = tiny_run(base / "run")
    (base / "afile").write_text("not a run\n")
    (base / "adir").mkdir()
    (base / "bad.yaml").write_text("steps: [1, 2\n")
    (base / "spec.yaml").write_text("preset: digits\nseeds: 0\nsettings: {a: {steps: -1}}\n")
    return base, run


def paths(base: Path, run: Path) -> list[str]:
    return [str(run), str(run / "generator.safetensors"), str(base / "missing" / "x"),
            str(base / "afile"), str(base / "afile" / "under.png"), str(base / "adir"),
            str(base / "new.png"), str(base / "new.npz"), str(base / "out"), "/proc/dfmgan.png",
            str(base / ("n" * 300)), str(base / "bad.yaml"), str(base / "spec.yaml")]


def kind(action) -> str:
    t = action.type
    name = getattr(t, "__name__", "")
    if action.dest in ("out", "copy"):
        return "out"
    if action.dest in ("device",):
        return "device"
    return {"int": "int", "float": "float"}.get(name, "text")


GOOD = {"int": ["1", "2", "3", "0"], "float": ["0.5", "1e-3", "2"], "device": ["cpu", "auto"],
        "text": ["digits", "1,2", "a,b"]}
BAD_DEVICES = ["cuda", "cuda:7", "tpu", "", "cpu:x"]


def own_keys() -> list[str]:
    """Every objective's own settings, objective.NAME.* (not in the default config)."""
    from dataclasses import asdict

    from dfmgan.objectives import OBJECTIVES

    return list(flatten({"objective": {n: asdict(c.Settings()) for n, c in OBJECTIVES.items()}}))


OWN_KEYS = own_keys()


def flag_values(action, pool: list[str], outs: list[str]):
    """Mostly plausible values, so that commands get past argparse into the checks and
    the work behind them; a third of the time, something bad of any kind."""
    if action.nargs == 0:
        return st.just([])
    if action.choices:
        good = list(map(str, action.choices))
        return st.sampled_from(good * 3 + ["bogus"]).map(lambda v: [v])
    if action.dest == "set":
        keys = [*flatten(TrainConfig().to_dict()), *OWN_KEYS, "net", "bogus.key", "=", ""]
        values = ["2", "1", "0", "true", "null", "1e-3"] * 2 + NUMBERS + ["[1]", "{a: 1}"]
        return st.tuples(st.sampled_from(keys), st.sampled_from(values)) \
            .map(lambda kv: [f"{kv[0]}={kv[1]}"])
    k = kind(action)
    good = outs if k == "out" else GOOD[k]
    bad = NUMBERS + pool + (BAD_DEVICES if k == "device" else [])
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(bad)) \
        .map(lambda v: [v])


@st.composite
def command_lines(draw, base: Path, run: Path) -> list[str]:
    pool = paths(base, run)
    outs = [str(base / "new.png"), str(base / "new.npz"), str(base / "out"), str(base / "m.jsonl")]
    name = draw(st.sampled_from(sorted(SUBCOMMANDS)))
    sub = build_parser(name)._subparsers._group_actions[0].choices[name]
    argv = [name]
    for action in sub._actions:
        if not action.option_strings:  # a positional: mostly the run, else a path or junk
            good = [str(run), str(run / "generator.safetensors"), "digits"]
            argv.append(draw(st.sampled_from(good * 3 + pool + ["bogus"])))
    optional = [a for a in sub._actions if a.option_strings and not SKIP & set(a.option_strings)]
    required = [a for a in optional if a.required]
    chosen = required + draw(st.lists(st.sampled_from(optional), max_size=4, unique_by=id))
    for action in {id(a): a for a in chosen}.values():
        argv += [action.option_strings[-1], *draw(flag_values(action, pool, outs))]
    if name == "train":
        argv += ["--no-progress", "--set", "net.g_width=8", "--set", "net.d_width=8"]
        if draw(st.booleans()):
            argv += ["--out", str(base / "runs" / f"r{draw(st.integers(0, 10 ** 6))}")]
    return argv


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def run_main(argv: list[str]) -> tuple[int | None, str]:
    """(exit status or None when the time limit stopped it at work, stderr)."""
    err = io.StringIO()
    BARS.clear()
    waited = [0]

    def stop(*_):
        if BARS:
            raise Budget
        waited[0] += SECONDS
        if waited[0] >= PATIENCE:
            raise Overtime
        signal.alarm(SECONDS)  # no bar yet: more time, not a pass

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(SECONDS)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse
                code = e.code
    except Budget:
        code = None
    except Overtime:
        code = "overtime"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, err.getvalue()


def test_every_flag_set_exits_0_or_2_with_one_line(world, monkeypatch):
    base, run = world
    monkeypatch.chdir(base / "adir")  # relative paths drawn (e.g. "1e9") land in the sandbox
    before = snapshot(run)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize="DFMGAN_FUZZ_SEED" not in os.environ,
              database=None, suppress_health_check=list(HealthCheck))
    @given(command_lines(base, run))
    def check(argv):
        code, err = run_main(argv)
        assert "Traceback" not in err, (argv, err)
        assert code in (0, 2, None), (argv, code, err)  # "overtime": no bar, no exit
        if code == 2:
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert len(lines) == 1, (argv, err)
            assert snapshot(run) == before, f"{argv} changed the run folder it refused"
        if snapshot(run) != before:  # a command that ran (eval, train --resume) may add to
            shutil.rmtree(run)        # the run: start the next example from the original
            for rel, data in before.items():
                (run / rel).parent.mkdir(parents=True, exist_ok=True)
                (run / rel).write_bytes(data)

    check()
