"""Training on several processes (torchrun, gloo on the CPU) against one process."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, TINY_FLAGS, run_cli
from safetensors.torch import load_file

from dfmgan.checkpoint import read_state, state_paths

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def run(cmd, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, **kw)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.mark.parametrize("scheme", ["alternating", "simultaneous"])
def test_two_processes_equal_one_without_batchnorm(tmp_path, scheme):
    worker = str(REPO / "tests" / "ddp_worker.py")
    run([sys.executable, worker, str(tmp_path), scheme, "3"])
    run([*TORCHRUN, worker, str(tmp_path), scheme, "3"])
    one = torch.load(tmp_path / "rank0-of1.pt", weights_only=True)
    r0 = torch.load(tmp_path / "rank0-of2.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1-of2.pt", weights_only=True)
    for net in ("G", "D"):
        for k, v in one[net].items():
            assert torch.equal(r0[net][k], r1[net][k]), k  # ranks never drift apart
            diff = (r0[net][k] - v).abs()
            # Gradients differ only in summation order (~1e-9), but Adam divides by sqrt(v):
            # a weight whose gradient is itself ~0 can move by up to lr (2e-4) either way.
            # Without averaging, with D taking G's gradient, or with other latents, most
            # weights would differ by O(lr) every step. Seen: max 1.1e-5, D ~2e-9.
            assert diff.max() < 5e-5 and diff.mean() < 2e-6, (net, k, diff.max())


def test_torchrun_training_writes_once_and_resumes(tmp_path):
    flags = ["--preset", "digits", *TINY_FLAGS, "--set", "checkpoint_every=2"]
    one, two, part = tmp_path / "one", tmp_path / "two", tmp_path / "part"
    assert run_cli("train", *flags, "--steps", "4", "--out", str(one)).returncode == 0
    run([*TORCHRUN, "-m", "dfmgan", "train", *flags, "--steps", "4", "--out", str(two)], cwd=tmp_path)
    r = run_cli("train", *flags, "--steps", "2", "--nproc", "2", "--out", str(part))  # the shortcut
    assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli("train", "--resume", str(part), "--steps", "4", "--nproc", "2", "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(l)["step"] for l in (two / "stats.jsonl").read_text().splitlines()]
    assert rows == [1, 2, 3, 4]  # rank 0 alone writes
    assert json.loads((two / "config.json").read_text())["batch_size"] == 16  # the global batch
    a, b, c = (load_file(d / "generator.safetensors") for d in (one, two, part))
    for k in a:
        assert torch.equal(b[k], c[k]), k  # resumed under torchrun == straight under torchrun
        # against one process: equal but for BatchNorm over 8-image shards instead of the
        # 16-image batch; over 4 steps of Adam(2e-4) that moves weights by at most ~2e-3
        assert torch.allclose(a[k].float(), b[k].float(), atol=4e-3, rtol=0), k
    assert [json.loads(l)["step"] for l in (part / "stats.jsonl").read_text().splitlines()] == [1, 2, 3, 4]


def worker_pid(parent: int, rank: int) -> int:
    """The pid of torchrun's worker of ``rank``, read from /proc (Linux)."""
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (p / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and f"RANK={rank}".encode() in env:
            return int(p.name)
    raise AssertionError(f"no worker of rank {rank} under pid {parent}")


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_a_signal_to_one_rank_stops_every_rank_at_the_same_step(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [*TORCHRUN, "-m", "dfmgan", "train", "--preset", "digits", *TINY_FLAGS,
           "--set", "checkpoint_every=100000", "--steps", "100000", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    stats = out / "stats.jsonl"
    t0 = time.time()
    while not (stats.exists() and len(stats.read_text().splitlines()) >= 3):
        assert proc.poll() is None and time.time() - t0 < 180, proc.communicate()
        time.sleep(0.1)
    os.kill(worker_pid(proc.pid, rank=1), signal.SIGTERM)  # rank 1 only, as a scheduler might
    _, err = proc.communicate(timeout=120)
    assert "stopped at step" in err and "Continue with: dfmgan train --resume" in err, err[-3000:]
    steps = [json.loads(l)["step"] for l in stats.read_text().splitlines()]
    last = state_paths(out)[-1][0]
    assert steps == list(range(1, last + 1)) and last < 100000  # rank 0 stopped and saved too
    r = run_cli("train", "--resume", str(out), "--steps", str(last + 2), "--nproc", "2", "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    steps = [json.loads(l)["step"] for l in stats.read_text().splitlines()]
    assert steps == list(range(1, last + 3))


def test_two_process_dfm_resumes_bitwise(tmp_path):
    """Each rank draws its own corruption noise; a resumed run must draw the same."""
    flags = ["--preset", "digits", *TINY_FLAGS, "--objective", "dfm",
             "--set", "objective.dfm.denoiser.width=32", "--set", "checkpoint_every=2"]
    straight, part = tmp_path / "straight", tmp_path / "part"
    for out, steps in ((straight, 4), (part, 2)):
        r = run_cli("train", *flags, "--steps", str(steps), "--nproc", "2", "--out", str(out))
        assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli("train", "--resume", str(part), "--steps", "4", "--nproc", "2", "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    a = read_state(state_paths(straight)[-1][1])["objective"]["modules"]
    b = read_state(state_paths(part)[-1][1])["objective"]["modules"]
    assert set(a) == {"G", "D", "R"}
    for net in a:
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), (net, k)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_nodes(args: list[str], cwd) -> list[subprocess.Popen]:
    """`torchrun --nnodes 2` as a cluster would start it, one agent per node with one
    worker each, meeting by c10d rendezvous on the loopback address (gloo)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    endpoint, rdzv = f"127.0.0.1:{free_port()}", f"job{time.time_ns()}"
    return [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2",
                              "--nproc_per_node", "1", "--node_rank", str(node),
                              "--rdzv_backend", "c10d", "--rdzv_endpoint", endpoint,
                              "--rdzv_id", rdzv, "--rdzv_conf", f"is_host={int(node == 0)}",
                              "-m", "dfmgan", "train", *args],
                             env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for node in (0, 1)]


def finish(nodes, timeout=300) -> list[str]:
    errs = [p.communicate(timeout=timeout)[1] for p in nodes]
    assert all(p.returncode == 0 for p in nodes), "\n".join(e[-2000:] for e in errs)
    return errs


def test_two_nodes_train_stop_on_one_node_and_resume_bitwise(tmp_path):
    flags = ["--preset", "digits", *TINY_FLAGS, "--set", "checkpoint_every=2"]
    straight, part, local = tmp_path / "straight", tmp_path / "part", tmp_path / "local"
    finish(two_nodes([*flags, "--steps", "4", "--out", str(straight)], tmp_path))
    r = run_cli("train", *flags, "--steps", "4", "--nproc", "2", "--out", str(local))
    assert r.returncode == 0, r.stderr[-2000:]
    a, c = (load_file(d / "generator.safetensors") for d in (straight, local))
    assert all(torch.equal(a[k], c[k]) for k in a)  # two nodes == two local processes
    # a long run, stopped by SIGTERM to node 1's worker alone (as a scheduler might)
    nodes = two_nodes([*flags, "--set", "checkpoint_every=100000", "--steps", "100000",
                       "--out", str(part)], tmp_path)
    stats, t0 = part / "stats.jsonl", time.time()
    while not (stats.exists() and len(stats.read_text().splitlines()) >= 3):
        assert nodes[0].poll() is None and time.time() - t0 < 180, nodes[0].communicate()
        time.sleep(0.1)
    os.kill(worker_pid(nodes[1].pid, rank=int(not _rank_of(nodes[0].pid))), signal.SIGTERM)
    errs = [p.communicate(timeout=120)[1] for p in nodes]
    assert any("stopped at step" in e for e in errs), errs
    last = state_paths(part)[-1][0]
    assert [json.loads(l)["step"] for l in stats.read_text().splitlines()] == list(range(1, last + 1))
    # resume on two nodes, to two steps past the stop, and against a straight run as long
    finish(two_nodes(["--resume", str(part), "--steps", str(last + 2), "--no-progress"], tmp_path))
    finish(two_nodes([*flags, "--steps", str(last + 2), "--out", str(tmp_path / "s2")], tmp_path))
    a = read_state(state_paths(tmp_path / "s2")[-1][1])["objective"]["modules"]
    b = read_state(state_paths(part)[-1][1])["objective"]["modules"]
    for net in a:
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), (net, k)


def _rank_of(agent: int) -> int:
    """The global rank of the one worker under torchrun agent ``agent``."""
    for rank in (0, 1):
        try:
            worker_pid(agent, rank)
            return rank
        except AssertionError:
            continue
    raise AssertionError(f"no worker under {agent}")
