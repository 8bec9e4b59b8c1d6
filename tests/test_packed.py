"""Packed data sets (issue 43): `dfmgan pack` decodes once into one file that equals the
set loaded in memory byte for byte; a killed pack resumes to the same file; damage and a
wrong size are refused in one line; training from a pack with prefetch on or off, and
across a resume, trains the same bits; each step's wait for data is recorded."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import resumed_equals_straight, run_cli, tiny_overrides
from dfmgan.data import load_dataset
from dfmgan.data.folder import load_folder
from dfmgan.errors import DataError
from dfmgan.resolver import build_config
from dfmgan.tools.pack import pack


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """The verified-digest cache in the test's folder, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def image_tree(root, n=60, seed=0):
    """n small RGBA/RGB PNGs of varied sizes in two class folders."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = rng.integers(10, 40, 2)
        mode = "RGBA" if i % 3 == 0 else "RGB"
        arr = rng.integers(0, 255, (h, w, len(mode)), dtype=np.uint8)
        folder = root / ("cats" if i % 2 else "dogs")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr, mode).save(folder / f"{i:03d}.png")
    return root


def test_a_packed_folder_equals_the_folder_in_memory(tmp_path):
    root = image_tree(tmp_path / "imgs")
    m = pack(str(root), tmp_path / "x.dfmpack", 28, 3, workers=2, progress=False, chunk=7)
    direct = load_folder(root, "train", 28, 3, memory_bytes=10 ** 9)
    packed = load_dataset("packed", tmp_path / "x.dfmpack", None, 28, 3)
    assert m["n"] == len(direct) == len(packed) == 60
    assert torch.equal(packed.images, direct.images) and torch.equal(packed.labels, direct.labels)
    assert packed.classes == direct.classes == ["cats", "dogs"] and packed.names == direct.names
    assert m["decode"]["fit"] == "crop" and len(m["sources_sha256"]) == 64


@pytest.mark.parametrize("name,size,channels", [("digits", 28, 1), ("stacked-digits", 28, 3)])
def test_a_packed_data_set_equals_its_loader(tmp_path, name, size, channels):
    pack(name, tmp_path / "d.dfmpack", size, channels, progress=False, chunk=1000)
    direct = load_dataset(name, None, None, size, channels)
    packed = load_dataset("packed", tmp_path / "d.dfmpack", None, size, channels)
    assert torch.equal(packed.images, direct.images) and torch.equal(packed.labels, direct.labels)


def test_a_memory_mapped_pack_reads_the_same_bytes(tmp_path, monkeypatch):
    import dfmgan.data.packed as packed_mod

    root = image_tree(tmp_path / "imgs", n=20)
    pack(str(root), tmp_path / "x.dfmpack", 32, 3, workers=1, progress=False)
    held = load_dataset("packed", tmp_path / "x.dfmpack", None, 32, 3)
    monkeypatch.setattr(packed_mod, "fits_in_memory", lambda nbytes, limit=None: False)
    mapped = load_dataset("packed", tmp_path / "x.dfmpack", None, 32, 3)
    assert "memory-mapped" in mapped.description and "memory-mapped" not in held.description
    assert torch.equal(mapped.images, held.images) and torch.equal(mapped.labels, held.labels)
    idx = torch.tensor([5, 0, 19, 5])
    assert torch.equal(mapped.get(idx)[0], held.images[idx])


class Killed(Exception):
    pass


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 8), st.sampled_from([3, 5, 8]))
def test_a_pack_cut_short_after_any_chunk_resumes_to_the_same_file(tmp_path_factory, cut, chunk):
    import dfmgan.tools.pack as pack_mod

    base = tmp_path_factory.mktemp("cut")
    root = image_tree(base / "imgs", n=30)
    pack(str(root), base / "clean.dfmpack", 28, 3, workers=1, progress=False, chunk=chunk)
    cut = min(cut, -(-30 // chunk) - 1)  # chunks finished before the kill
    real, written = pack_mod.atomic_write, [0]

    def dies(path, data):  # plan.json, then one marker a chunk; the kill before the next
        if written[0] == cut + 1:
            raise Killed
        written[0] += 1
        real(path, data)

    pack_mod.atomic_write = dies
    try:
        with pytest.raises(Killed):
            pack(str(root), base / "x.dfmpack", 28, 3, workers=1, progress=False, chunk=chunk)
    finally:
        pack_mod.atomic_write = real
    assert len(list((base / "x.dfmpack.partial").glob("*.json"))) == cut + 1
    pack(str(root), base / "x.dfmpack", 28, 3, workers=1, progress=False, chunk=chunk)
    assert (base / "x.dfmpack").read_bytes() == (base / "clean.dfmpack").read_bytes()
    assert not (base / "x.dfmpack.partial").exists()


@pytest.mark.slow
def test_a_killed_pack_process_resumes_to_the_same_file(tmp_path):
    root = image_tree(tmp_path / "imgs", n=400)
    args = ["pack", str(root), "--size", "32", "--channels", "3", "--chunk", "8",
            "--workers", "1", "--no-progress"]
    r = run_cli(*args, "--out", str(tmp_path / "clean.dfmpack"))
    assert r.returncode == 0, r.stderr
    p = subprocess.Popen([sys.executable, "-m", "dfmgan", *args, "--out", str(tmp_path / "x.dfmpack")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    partial = tmp_path / "x.dfmpack.partial"
    deadline = time.time() + 120
    while time.time() < deadline and not list(partial.glob("00000[3-9].json")) and p.poll() is None:
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert partial.is_dir() and not (tmp_path / "x.dfmpack").exists()
    # its decoding workers die with it, never left blocked beside later work
    def survivors():
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if str(tmp_path / "x.dfmpack").encode() in (proc / "cmdline").read_bytes():
                    found.append(proc.name)
            except OSError:
                pass
        return found
    deadline = time.time() + 10
    while survivors() and time.time() < deadline:
        time.sleep(0.1)
    assert survivors() == []
    r = run_cli(*args, "--out", str(tmp_path / "x.dfmpack"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "x.dfmpack").read_bytes() == (tmp_path / "clean.dfmpack").read_bytes()


@pytest.fixture
def packed_file(tmp_path):
    root = image_tree(tmp_path / "imgs", n=24)
    pack(str(root), tmp_path / "x.dfmpack", 28, 3, workers=1, progress=False)
    return tmp_path / "x.dfmpack"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.floats(0, 1, exclude_max=True), st.integers(1, 255))
def test_any_flipped_byte_is_refused_in_one_line(packed_file, where, flip):
    """A byte changed anywhere (header, manifest, padding, images, labels) is found: the
    manifest's digest on every open, the data's on the first open of each version."""
    good = packed_file.read_bytes()
    load_dataset("packed", packed_file, None, 28, 3)  # verified once: the verdict is cached
    pos = int(where * len(good))
    bad = bytearray(good)
    bad[pos] ^= flip
    packed_file.write_bytes(bytes(bad))
    try:
        with pytest.raises(DataError) as e:
            load_dataset("packed", packed_file, None, 28, 3)
        assert "\n" not in str(e.value)
    finally:
        packed_file.write_bytes(good)


@pytest.mark.parametrize("keep", [0, 10, 60, 5000, -1])
def test_a_truncated_pack_is_refused(packed_file, keep):
    data = packed_file.read_bytes()
    packed_file.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(DataError):
        load_dataset("packed", packed_file, None, 28, 3)


def test_a_pack_of_another_size_is_refused_before_any_work(packed_file, tmp_path):
    from dfmgan.cli import main

    out = tmp_path / "run"
    assert main(["train", "--data", str(packed_file), "--size", "32", "--out", str(out)]) == 2
    assert not out.exists()
    cfg = build_config(overrides={"data": str(packed_file), "size": 28, "channels": 3})
    assert (cfg.data.name, cfg.data.root) == ("packed", str(packed_file))


def test_a_pack_named_alone_trains_at_its_own_size(packed_file):
    """``--data x.dfmpack`` with no --size: the size and channels it was packed at."""
    from dfmgan.resolver import resolve

    cfg = resolve({"data": str(packed_file)})
    assert (cfg.net.size, cfg.net.channels, cfg.data.name) == (28, 3, "packed")
    assert resolve({"data": "packed", "data_root": str(packed_file)}).net.size == 28


def test_pack_refuses_an_existing_output_and_a_wrong_suffix(packed_file, tmp_path):
    from dfmgan.errors import ConfigError

    before = packed_file.read_bytes()
    with pytest.raises(ConfigError, match="exists"):
        pack(str(tmp_path / "imgs"), packed_file, 28, 3, progress=False)
    with pytest.raises(ConfigError, match="dfmpack"):
        pack(str(tmp_path / "imgs"), tmp_path / "x.npy", 28, 3, progress=False)
    assert packed_file.read_bytes() == before


def test_bad_files_are_named_in_one_pass_and_skip_bad_leaves_them_out(tmp_path):
    root = image_tree(tmp_path / "imgs", n=12)
    (root / "cats" / "broken.png").write_bytes(b"not a png")
    (root / "dogs" / "empty.png").write_bytes(b"")
    with pytest.raises(DataError) as e:
        pack(str(root), tmp_path / "x.dfmpack", 28, 3, workers=1, progress=False, chunk=4)
    assert "broken.png" in str(e.value) and "empty.png" in str(e.value) and e.value.flag == "--skip-bad"
    from dfmgan.data import ImageOptions

    m = pack(str(root), tmp_path / "x.dfmpack", 28, 3, opts=ImageOptions(skip_bad=True),
             workers=1, progress=False, chunk=4)
    assert m["n"] == 12 and len(m["skipped"]) == 2


# --- training from a pack ---------------------------------------------------------------

def pack_cfg(path, **extra):
    over = tiny_overrides(data={"name": "packed", "root": str(path)},
                          net={"size": 28, "channels": 3}, **extra)
    return build_config(overrides=over)


def test_prefetch_on_and_off_train_the_same_bits(packed_file, tmp_path, monkeypatch):
    import dfmgan.data.packed as packed_mod
    from dfmgan.checkpoint import load_latest_state
    from dfmgan.training import train

    # memory-mapped, as a set over the memory rule is: the prefetcher's thread gathers it
    monkeypatch.setattr(packed_mod, "fits_in_memory", lambda nbytes, limit=None: False)
    for depth in (0, 3):
        train(pack_cfg(packed_file, steps=5, speed={"prefetch": depth}, objective={"name": "wgan-gp"}),
              tmp_path / f"p{depth}", progress=False)
    a, b = (load_latest_state(tmp_path / f"p{d}")["objective"]["modules"] for d in (0, 3))
    for net in a:
        for k, v in a[net].items():
            assert torch.equal(v, b[net][k]), (net, k)
    rows = [json.loads(l) for l in (tmp_path / "p3" / "stats.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and all(r["time/data_wait"] >= 0 for r in rows)


def test_n_plus_resume_plus_n_equals_2n_from_a_pack(packed_file, tmp_path, monkeypatch):
    import dfmgan.data.packed as packed_mod

    monkeypatch.setattr(packed_mod, "fits_in_memory", lambda nbytes, limit=None: False)
    resumed_equals_straight(tmp_path, lambda steps: pack_cfg(packed_file, steps=steps))


def test_the_prefetcher_hands_out_the_samplers_order_and_recovers_a_reset():
    from dfmgan.data import ArraySource
    from dfmgan.data.batches import BatchSampler, Prefetcher

    src = ArraySource(torch.arange(50, dtype=torch.uint8).view(50, 1, 1, 1), None, "toy")
    plain, fed = BatchSampler(50, 8, 3), BatchSampler(50, 8, 3)
    feed = Prefetcher(src, fed, BatchSampler.next, depth=3)
    for step in range(20):
        if step == 9:  # a resume: the sampler's state moves under the prefetcher
            fed.load_state_dict({"epoch": 4, "position": 16})
            plain.load_state_dict({"epoch": 4, "position": 16})
            feed.reset()
        images, _, wait = feed.next()
        assert torch.equal(images.flatten().long(), plain.next()) and wait >= 0


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["memory", "mapped", "decoded"]),
       st.lists(st.tuples(st.floats(0, 1), st.floats(1e-4, 1)), min_size=1, max_size=6))
def test_a_slow_feed_warns_once_with_the_advice_for_how_the_set_is_held(held, windows):
    """Waiting over a tenth of the step warns once: a decoded set is told to pack, a packed
    file to gather further ahead; a set in memory never warns (its wait is noise: CI once
    failed on a 3 ms wait of a 30 ms step on the digits)."""
    import contextlib
    import io

    from dfmgan.training.loop import Trainer

    t = Trainer.__new__(Trainer)
    t.cfg, t.advised, t.held = build_config("digits"), set(), held
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        for wait, step in windows:
            t.advise_data(wait, step)
    slow = [w / s for w, s in windows if w > 0.1 * s]
    lines = [ln for ln in err.getvalue().splitlines() if "dfmgan: warning:" in ln]
    assert len(lines) == (1 if slow and held != "memory" else 0), err.getvalue()
    if lines:
        assert f"({slow[0]:.0%})" in lines[0]
        assert ("dfmgan pack" in lines[0]) == (held == "decoded")
        assert ("speed.prefetch" in lines[0]) == (held == "mapped")


@pytest.mark.parametrize("mapped,setting,depth", [(True, -1, 0), (True, 3, 3), (False, 3, 0),
                                                  (True, 0, 0)])
def test_which_sets_are_gathered_ahead_on_the_cpu(packed_file, tmp_path, monkeypatch,
                                                   mapped, setting, depth):
    """A set in memory is gathered in the step; a memory-mapped (or decoded) one ahead when
    asked; the default (-1) gathers in the step on the CPU, where a thread would compete
    with the step for the cores."""
    import dfmgan.data.packed as packed_mod
    from dfmgan.training.loop import Trainer
    from dfmgan.training.rundir import RunDir

    monkeypatch.setattr(packed_mod, "fits_in_memory", lambda nbytes, limit=None: not mapped)
    t = Trainer(pack_cfg(packed_file, speed={"prefetch": setting}), RunDir(tmp_path / "r"), False)
    assert t.feed.depth == depth and t.source.mapped == mapped
    assert not (tmp_path / "r").exists()  # building a trainer writes nothing
