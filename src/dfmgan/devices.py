"""Which device a command runs on: ``auto`` is the GPU when there is one, else the CPU.
Every command that runs a network resolves its ``--device`` here, before any work."""
from __future__ import annotations

import contextlib
import re

from .errors import ConfigError

DEVICE = re.compile(r"auto|cpu|mps|cuda(:[0-9]{1,3})?")


def check_device(name) -> str:
    """The form of a device string (auto, cpu, cuda, cuda:N, mps), without torch: the
    resolver checks it before any work; whether it exists here is ``resolve_device``'s."""
    if not isinstance(name, str) or not DEVICE.fullmatch(name):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
    return name


def resolve_device(name):
    """``name`` (a device string or a ``torch.device``) as a ``torch.device`` that exists on
    this machine; ``auto`` is the GPU when there is one."""
    import torch

    if isinstance(name, torch.device):
        return name
    if check_device(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: no CUDA device is available "
                          f"(torch {torch.__version__}, built {'with' if torch.backends.cuda.is_built() else 'without'} CUDA)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: there are {torch.cuda.device_count()} CUDA devices")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {name}: MPS is not available on this machine")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
    return dev


def usable_cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def auto_threads(cores: int | None = None, load: float | None = None) -> int:
    """``--threads auto``: the cores that the last minute's load average leaves free,
    rounded, at least 1 and at most the cores this process may use. On 2 cores: 2 when the
    machine is idle (load < 0.5), 1 from a load of 0.5 up (beside another job, one thread
    trained 1.85x faster than two: docs, results, "Threads")."""
    import os

    cores = cores or usable_cores()
    load = os.getloadavg()[0] if load is None else load
    return max(1, min(cores, int(cores - load + 0.5)))


def resolve_threads(n):
    """``--threads`` as given: a count, None (torch's own), or "auto" (``auto_threads``,
    with one line on stderr saying what it chose and why)."""
    if n != "auto":
        return n
    import os
    import sys

    chosen, load = auto_threads(), os.getloadavg()[0]
    print(f"dfmgan: --threads auto: {chosen} (load {load:.1f} on {usable_cores()} cores)",
          file=sys.stderr)
    return chosen


@contextlib.contextmanager
def threads_set(n: int | None):
    """--threads (and ``train(threads=N)``): torch's intra-op threads (and OpenMP's, for the processes a command
    starts) for one command, then as they were, so that ``main`` called in a process (a
    test, a notebook) leaves that process's torch as it found it."""
    n = resolve_threads(n)
    if not n:
        yield
        return
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1024:
        raise ConfigError(f"threads must be a whole number in 1..1,024, got {n!r}")
    import os

    import torch

    before, env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(n)
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if env is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env
