"""Hostile inputs, by class (issue 46): YAML alias bombs refused at once whatever their
size, FIFOs in every file argument refused without blocking, numbers too large for any
setting, and statistics files holding NaN or inf. Each is one line and exit status 2."""
import json
import os
import time

import numpy as np
import pytest
import torch
from conftest import run_cli, tiny_run
from hypothesis import given, settings
from hypothesis import strategies as st

from dfmgan.config import load_yaml, read_file
from dfmgan.errors import ConfigError


def alias_bomb(depth: int) -> str:
    """A list of lists, each level four aliases of the one below: 4^depth paths."""
    lines = ["a0: &a0 [x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, depth)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("depth", [2, 4, 8, 16, 28])
def test_alias_bombs_of_any_size_are_refused_at_once(tmp_path, depth):
    """Aliases are refused outright when read, so a bomb of 4^28 paths costs what a small
    file does: the time does not grow with the depth."""
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(depth))
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as e:
        read_file(path)
    assert time.perf_counter() - t0 < 1.0
    assert "alias" in str(e.value) and "\n" not in str(e.value)


def test_an_alias_bomb_is_one_line_from_train_and_from_study(tmp_path):
    (tmp_path / "bomb.yaml").write_text(alias_bomb(28))
    for argv in (["train", "--config", str(tmp_path / "bomb.yaml"), "--out", str(tmp_path / "r")],
                 ["study", str(tmp_path / "bomb.yaml"), "--out", str(tmp_path / "s")]):
        t0 = time.perf_counter()
        r = run_cli(*argv, timeout=60)
        assert r.returncode == 2 and "alias" in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert time.perf_counter() - t0 < 30
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()


@settings(max_examples=40, deadline=None)
@given(st.integers(19, 6000), st.sampled_from(["", "-"]))
def test_integers_too_large_for_any_setting_are_one_line(digits, sign):
    text = f"steps: {sign}{'9' * digits}\n"
    with pytest.raises(Exception) as e:
        load_yaml(text)
    import yaml

    assert isinstance(e.value, yaml.YAMLError) and "\n" not in str(e.value)


@pytest.mark.parametrize("setting", ["log_every=" + "9" * 400, "net.g_width=" + "[" * 5000,
                                     "steps=" + "9" * 5000])
def test_huge_and_deep_values_in_set_are_one_line(tmp_path, setting):
    r = run_cli("train", "--set", setting, "--out", str(tmp_path / "r"), timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "r").exists()


def make_fifo(path):
    os.mkfifo(path)
    return path


FIFO_ARGS = {  # a command per file argument, the FIFO standing where the file goes
    "--config": lambda f, t, run: ["train", "--config", f, "--out", str(t / "r")],
    "study spec": lambda f, t, run: ["study", f, "--out", str(t / "s")],
    "--latents": lambda f, t, run: ["arithmetic", str(run), "--latents", f, "--a", "0", "--b", "0",
                                    "--c", "0", "--out", str(t / "a.png")],
    "import-dcgan netG": lambda f, t, run: ["import-dcgan", f, "--out", str(t / "imp")],
    "eval images": lambda f, t, run: ["eval", f + ".npz", "--data", "digits", "--out", str(t / "m.jsonl")],
    "--inception-weights": lambda f, t, run: ["eval", str(run), "--feature-net", "inception",
                                              "--inception-weights", f, "--n", "4",
                                              "--out", str(t / "m.jsonl")],
    "--masks": lambda f, t, run: ["ablate", str(run), "--masks", f, "--out", str(t / "b.png")],
}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("run") / "run", steps=2)


@pytest.mark.parametrize("name", sorted(FIFO_ARGS))
def test_a_fifo_in_any_file_argument_is_refused_without_blocking(tmp_path, small_run, name):
    fifo = make_fifo(tmp_path / "pipe")
    make_fifo(tmp_path / "pipe.npz")
    argv = FIFO_ARGS[name](str(fifo), tmp_path, small_run)
    r = run_cli(*argv, timeout=60)  # a blocked reader would time out here
    assert r.returncode == 2 and r.stderr.count("\n") == 1, (name, r.stderr)
    assert "FIFO" in r.stderr, (name, r.stderr)


@pytest.fixture(scope="module")
def good_stats(tmp_path_factory):
    stats = tmp_path_factory.mktemp("stats") / "s.safetensors"
    r = run_cli("reference", "digits", "--size", "32", "--channels", "1", "--n", "20",
                "--out", str(stats), "--no-progress")
    assert r.returncode == 0, r.stderr
    return stats


def with_tensor(src, dst, name, bad, drop_digest=False):
    """A copy of safetensors file ``src`` at ``dst`` whose tensor ``name`` holds ``bad``
    (one entry), its metadata kept (less the data digest, so a changed snapshot loads)."""
    from safetensors.torch import load_file, save_file

    from dfmgan.snapshot_file import safetensors_header

    meta = dict(safetensors_header(src).get("__metadata__") or {})
    if drop_digest:
        info = json.loads(meta["dfmgan"])
        info.pop("data_sha256", None)
        meta["dfmgan"] = json.dumps(info)
    tensors = load_file(src)
    name = name if name in tensors else sorted(k for k in tensors if tensors[k].is_floating_point())[0]
    tensors[name].view(-1)[0] = torch.tensor(bad, dtype=torch.float64).to(tensors[name].dtype)  # 1e300: inf in float32
    save_file(tensors, dst, metadata=meta)
    return dst


def yaml_number(x: float) -> str:
    return {float("inf"): ".inf", -float("inf"): "-.inf"}.get(x, ".nan" if x != x else repr(x))


# every file that brings numbers in: (what writes it with the bad number, the command reading it)
NUMERIC_FILES = {
    "statistics": lambda t, run, stats, bad: ["eval", str(run), "--metrics", "fid,kid", "--n", "8",
                                              "--ref", str(with_tensor(stats, t / "s.safetensors", "pool", bad)),
                                              "--out", str(t / "m.jsonl")],
    "latents": lambda t, run, stats, bad: (np.savez(t / "z.npz", z=np.full((3, 100), bad)),
                                           ["arithmetic", str(run), "--latents", str(t / "z.npz"),
                                            "--a", "0", "--b", "1", "--c", "2", "--out", str(t / "a.png")])[1],
    "boxes": lambda t, run, stats, bad: ((t / "b.json").write_text(json.dumps({"0": [[0, 0, bad, 8]]})),
                                         ["ablate", str(run), "--boxes", str(t / "b.json"), "--sheet-n", "4",
                                          "--out", str(t / "b.png")])[1],
    "masks": lambda t, run, stats, bad: (np.savez(t / "m.npz", indices=np.array([0]),
                                                  masks=np.full((1, 28, 28), bad)),
                                         ["ablate", str(run), "--masks", str(t / "m.npz"), "--sheet-n", "4",
                                          "--out", str(t / "b.png")])[1],
    "config": lambda t, run, stats, bad: ((t / "c.yaml").write_text(f"optim:\n  lr: {yaml_number(bad)}\n"),
                                          ["train", "--config", str(t / "c.yaml"), "--out", str(t / "r")])[1],
    "weights": lambda t, run, stats, bad: ["sample", str(with_tensor(
        run / "generator.safetensors", t / "generator.safetensors", "", bad, drop_digest=True)),
        "--n", "4", "--out", str(t / "g.png")],
}


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(NUMERIC_FILES)),
       st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -1e300]))
def test_nan_inf_and_huge_numbers_in_every_numeric_file_are_one_line(tmp_path_factory, small_run,
                                                                      good_stats, kind, bad):
    """Refused where they enter, before any linear algebra or allocation: NaN statistics
    once crashed LAPACK (exit 139), 1e300 made it segfault, NaN boxes were used as 28."""
    import shutil

    t = tmp_path_factory.mktemp("num")
    if kind == "weights":
        shutil.copy(small_run / "generator.json", t / "generator.json")
    argv = NUMERIC_FILES[kind](t, small_run, good_stats, bad)
    before = sorted(p.name for p in t.iterdir())
    code, err = call_main(argv)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (kind, bad, err)
    assert sorted(p.name for p in t.iterdir()) == before  # no output, no run folder


def test_a_generator_whose_arithmetic_overflows_is_one_line_not_black_images():
    """Finite but huge weights can make G's output NaN; turned into uint8 it would be 0."""
    from dfmgan.data.transforms import to_uint8
    from dfmgan.errors import DataError

    x = torch.zeros(2, 1, 4, 4)
    assert to_uint8(x).eq(128).all()
    x[1, 0, 2, 3] = float("nan")
    with pytest.raises(DataError, match="NaN or inf"):
        to_uint8(x)


# --- one writer per run -------------------------------------------------------------------

def start_resume(run, steps: int):
    import subprocess
    import sys

    from conftest import TINY_FLAGS

    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "dfmgan", "train", "--resume", str(run),
                             "--steps", str(steps), *TINY_FLAGS[-1:]], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_holder(run, proc, timeout: float = 60.0) -> None:
    """Until ``proc`` holds RUN/.lock (the kernel's table of locks says so)."""
    from dfmgan.files import lock_holder

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        lock = run / ".lock"
        if lock.is_file() and lock_holder(lock.stat().st_ino) == str(proc.pid):
            assert lock.read_text() == ""  # nothing written into the run by taking it
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the first writer never took the lock")


@pytest.mark.parametrize("second", ["resume", "resume with other steps"])
def test_a_second_writer_is_refused_naming_the_first_and_a_killed_one_leaves_no_lock(tmp_path, second):
    import signal

    run = tiny_run(tmp_path / "run", steps=2)
    first = start_resume(run, 100_000)  # still training when the second arrives
    try:
        wait_for_holder(run, first)
        steps = "100000" if second == "resume" else "50"
        r = run_cli("train", "--resume", str(run), "--steps", steps, "--no-progress", timeout=120)
        assert r.returncode == 2 and f"in use by process {first.pid}" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    r = run_cli("train", "--resume", str(run), "--steps", "6", "--no-progress", timeout=300)
    assert r.returncode == 0, r.stderr  # the kernel dropped the dead holder's lock
    steps = [json_row["step"] for json_row in map(__import__("json").loads,
                                                  (run / "stats.jsonl").read_text().splitlines())]
    assert steps == sorted(set(steps)) and steps[-1] == 6  # no step twice


def append_rows(path, tag, n):
    from dfmgan.evaluation.api import append_jsonl

    for i in range(n):
        append_jsonl(path, {"who": tag, "i": i})


@pytest.mark.parametrize("writers", [2, 4])
def test_evaluations_appending_at_once_lose_no_row(tmp_path, writers):
    import json
    import multiprocessing as mp

    path = tmp_path / "metrics.jsonl"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=append_rows, args=(path, w, 15)) for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    rows = [json.loads(l) for l in path.read_text().splitlines()]
    assert sorted((r["who"], r["i"]) for r in rows) == [(w, i) for w in range(writers) for i in range(15)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]  # no lock file left


# --- memory bounded by what is judged, not by the candidates' size ---------------------------

def run_limited(argv, gigabytes: float, cwd=None):
    """``dfmgan ARGV`` with its address space capped: a command that allocates by the
    input's pixel count instead of its size on disk dies here instead of swapping."""
    import resource
    import subprocess
    import sys

    cap = int(gigabytes * 2 ** 30)
    return subprocess.run([sys.executable, "-m", "dfmgan", *argv], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=dict(os.environ, OMP_NUM_THREADS="1"),
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (cap, cap)))


@pytest.mark.parametrize("side", [512, 1024])
def test_large_candidates_do_not_load_the_reference_at_their_size(tmp_path, side):
    """Four RGB images of 1024 px (12 MB) against digits with digits' 32 px net: the
    reference (1,437 images) is read at 32 px, not 1024 (which took 22.8 GB)."""
    images = np.random.default_rng(0).integers(0, 256, (4, side, side, 3), dtype=np.uint8)
    np.savez(tmp_path / "x.npz", images=images)
    r = run_limited(["eval", str(tmp_path / "x.npz"), "--data", "digits", "--n", "16",
                     "--metrics", "fid", "--feature-net", "digits", "--out", str(tmp_path / "m.jsonl")], 6)
    assert r.returncode == 0, r.stderr[-500:]


def test_an_image_array_too_large_for_memory_is_refused_from_its_header(tmp_path):
    """An .npy whose header claims 10^6 images of 1024 px (3 TB) is refused with the
    number, before any read."""
    from numpy.lib import format as npformat

    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:
        npformat.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False,
                                            "shape": (10 ** 6, 1024, 1024, 3)})
    r = run_cli("eval", str(path), "--data", "digits", "--metrics", "fid", "--out", str(tmp_path / "m.jsonl"))
    assert r.returncode == 2 and "do not fit" in r.stderr and "GB" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1


# --- the readers of the newer commands: one line, never a traceback ------------------------

def call_main(argv):
    """``dfmgan ARGV`` in this process: (status, stderr); an exception escaping is a failure."""
    import contextlib
    import io

    from dfmgan.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=4, max_size=4), st.sampled_from(["eval", "project"]))
def test_image_arrays_with_no_images_or_no_pixels_are_one_line(tmp_path_factory, shape, command):
    n, h, w, c = shape[0], shape[1] * 4, shape[2] * 4, [1, 3, 3, 1][shape[3]]
    if n >= 2 and h >= 1 and w >= 1 and h == w:
        return  # a valid set: not this test's
    t = tmp_path_factory.mktemp("arr")
    np.savez(t / "x.npz", images=np.zeros((n, h, w, c), np.uint8))
    run = t / "none"
    argv = (["eval", str(t / "x.npz"), "--data", "digits", "--metrics", "fid", "--out", str(t / "m.jsonl")]
            if command == "eval" else ["project", "zoo:digits-gan", str(t / "x.npz"), "--out", str(t / "p")])
    code, err = call_main(argv)
    assert code == 2 and err.count("\n") == 1, err


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""
    import io
    import struct
    import zlib

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("command", ["eval", "reference"])
def test_a_decompression_bomb_first_in_a_folder_is_one_line(tmp_path, command):
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "0000.png").write_bytes(png_claiming(60_000, 60_000))
    for i in range(1, 4):
        (folder / f"{i:04d}.png").write_bytes(png_claiming(1, 1))
    argv = (["eval", str(folder), "--data", "digits", "--metrics", "fid", "--out", str(tmp_path / "m.jsonl")]
            if command == "eval" else ["reference", str(folder), "--feature-net", "digits",
                                       "--out", str(tmp_path / "s.safetensors")])
    code, err = call_main(argv)
    assert code == 2 and err.count("\n") == 1, err


def test_a_one_image_folder_is_one_line(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_claiming(1, 1))
    code, err = call_main(["eval", str(folder), "--data", "digits", "--metrics", "fid",
                           "--feature-net", "digits", "--out", str(tmp_path / "m.jsonl")])
    assert code == 2 and "at least 2" in err and err.count("\n") == 1, err


HOSTILE_STATE_DICTS = {
    "empty": {}, "an integer key": {1: torch.zeros(2)},
    "a sparse tensor": {"main.0.weight": torch.zeros(4, 4).to_sparse()},
    "complex weights": {"main.0.weight": torch.zeros(8, 3, 4, 4, dtype=torch.complex64)},
    "integer weights": {"main.0.weight": torch.zeros(8, 3, 4, 4, dtype=torch.int32)},
    "NaN weights": {"main.0.weight": torch.full((8, 3, 4, 4), float("nan"))},
}


@pytest.mark.parametrize("name", sorted(HOSTILE_STATE_DICTS))
@pytest.mark.parametrize("which", ["netG", "netD"])
def test_import_dcgan_refuses_hostile_state_dicts_in_one_line(tmp_path, name, which):
    import warnings

    path = tmp_path / "w.pth"
    torch.save(HOSTILE_STATE_DICTS[name], path)
    if which == "netG":
        argv = ["import-dcgan", str(path), "--out", str(tmp_path / "imp")]
    else:  # a good G is not needed: the D file is read first or alongside; either way one line
        argv = ["import-dcgan", str(path), "--netD", str(path), "--out", str(tmp_path / "imp")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a raw torch warning is not an answer either
        code, err = call_main(argv)
    assert code == 2 and err.count("\n") == 1, err
    assert not (tmp_path / "imp").exists()


json_junk = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                         max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(json_junk)
def test_a_tampered_zoo_index_is_one_line(tmp_path_factory, junk):
    import json

    from dfmgan import zoo
    from dfmgan.errors import CheckpointError

    root = tmp_path_factory.mktemp("zoo")
    (root / "index.json").write_text(json.dumps(junk))
    try:
        got = zoo.entries(root)
    except CheckpointError as e:
        assert "\n" not in str(e) and "index.json is damaged" in str(e)
        return
    assert zoo.index_problem(got) is None  # accepted: then it is a well-formed index


@pytest.mark.parametrize("garbage", ["[1, 2]", '{"step": 1e400}', '{"step": 1, "time/train_s": "y"}',
                                     '{"step": "x"}', "\x00\x01garbage{{{", "null", '"text"'])
def test_garbage_in_stats_jsonl_on_resume_is_passed_over(tmp_path, garbage):
    import json

    run = tiny_run(tmp_path / "run", steps=2)
    with open(run / "stats.jsonl", "a") as f:
        f.write(garbage + "\n")
    code, err = call_main(["train", "--resume", str(run), "--steps", "4", "--no-progress"])
    assert code == 0, err
    rows = [json.loads(l) for l in (run / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]


@pytest.mark.parametrize("best", ["{garbage", "[1]", '{"step": "x"}', "", "\xff"])
def test_info_on_a_damaged_best_record_says_so(tmp_path, best):
    run = tiny_run(tmp_path / "run", steps=2)
    (run / "best").mkdir(exist_ok=True)
    (run / "best" / "best.json").write_text(best, errors="surrogateescape")
    for extra in ([], ["--json"]):
        code, err = call_main(["info", str(run), *extra])
        assert code == 0 and "Traceback" not in err, err


@pytest.mark.parametrize("argv", [["sample", "zoo:digits-gan", "--out", ""],
                                  ["eval", "zoo:digits-gan", "--out", ""],
                                  ["train", "--out", ""]])
def test_an_empty_path_is_refused(tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, err = call_main(argv)
    assert code == 2 and "is empty" in err and list(tmp_path.iterdir()) == []


def test_a_closed_pipe_is_the_shells_141_and_silent(tmp_path):
    """`dfmgan info RUN --json | head -c1`, many times: dfmgan ends with 0 (it wrote all
    before head left) or 141, never one line of 'Broken pipe' with status 2."""
    import subprocess
    import sys

    run = tiny_run(tmp_path / "run", steps=2)
    script = (f"{sys.executable} -m dfmgan info {run} --json 2>{tmp_path}/err | head -c1 >/dev/null; "
              "echo ${PIPESTATUS[0]}")
    for _ in range(12):
        r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
        assert r.stdout.strip() in ("0", "141"), (r.stdout, (tmp_path / "err").read_text())
        assert (tmp_path / "err").read_text() == ""


def _error_classes():
    """DfmganError and every subclass of it, wherever defined (the CLI's modules loaded)."""
    import dfmgan.cli  # noqa: F401  (loads the modules that define subclasses: files.WriteError, ...)
    from dfmgan.errors import DfmganError

    found, todo = [], [DfmganError]
    while todo:
        found.append(todo.pop())
        todo += found[-1].__subclasses__()
    return sorted(found, key=lambda c: c.__name__)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_error_classes()), st.text(max_size=40))
def test_every_error_is_one_line_whatever_text_it_quotes(cls, text):
    """A name or key read from a file goes into messages verbatim; whatever its characters,
    the error is one line for the CLI and the Python API alike, and a printable message is
    kept as it was."""
    import codecs

    message = f"the zoo's index.json is damaged ({text} is not an entry)"
    got = str(cls(message))
    assert len(got.splitlines()) == 1, repr(got)
    if message.isprintable():
        assert got == message
    elif "\\" not in message:  # only escapes were added: undoing them gives the message back
        assert codecs.decode(got.encode("latin-1", "backslashreplace"), "unicode_escape") == message
