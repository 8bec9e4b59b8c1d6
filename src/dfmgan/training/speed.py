"""The speed settings (``SpeedConfig``) applied to a run: memory layout, compilation,
mixed precision and cuDNN autotuning. None of them changes what is trained, so all may
change on resume."""
from __future__ import annotations

import contextlib

import torch

from ..config import SpeedConfig
from ..errors import ConfigError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
NATIVE_BF16 = ("avx512_bf16", "amx_bf16")  # x86 flags of bf16 dot products in hardware


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags, from /proc/cpuinfo (empty where there is none: not Linux)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return set()
    return {w for line in cpuinfo.splitlines() if line.startswith(("flags", "Features"))
            for w in line.split(":", 1)[-1].split()}


def resolve_precision(precision: str, device: torch.device, flags: set[str] | None = None) -> str:
    """``auto`` -> bf16 on a CPU with native bf16 dot products (oneDNN then runs bf16
    convolutions and products in hardware: 1.47-1.69x faster training on machine A, the
    same quality over 3 seeds, BENCHMARKS.md), fp32 elsewhere: on other CPUs bf16 is
    emulated and slower, and on a GPU the choice (bf16, fp16) is left to the user."""
    if precision != "auto":
        return precision
    if device.type != "cpu":
        return "fp32"
    return "bf16" if set(NATIVE_BF16) & (cpu_flags() if flags is None else flags) else "fp32"


def apply(speed: SpeedConfig, objective, device: torch.device) -> None:
    """Layout and compilation of every network the objective trains, in place."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = speed.cudnn_benchmark
    if speed.precision == "fp16" and device.type != "cuda":
        raise ConfigError("--precision fp16 needs a GPU; on the CPU use bf16 or fp32")
    for net in objective.modules().values():
        if speed.channels_last:
            net.to(memory_format=torch.channels_last)
        if speed.compile:
            # nn.Module.compile keeps state_dict keys as they are (no _orig_mod. prefix);
            # D's objectives call features(), not forward(), so that method is compiled too
            net.compile()
            if hasattr(net, "features"):
                net.features = torch.compile(net.features)
    objective.set_precision(DTYPES.get(resolve_precision(speed.precision, device)), device)


def layout(x: torch.Tensor, speed: SpeedConfig) -> torch.Tensor:
    """A real batch (B, C, H, W) in the networks' memory layout."""
    return x.contiguous(memory_format=torch.channels_last) if speed.channels_last else x


def autocast(dtype: torch.dtype | None, device: torch.device):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def from_compiler(e: BaseException) -> bool:
    """Whether an exception comes out of torch.compile's machinery (Dynamo, Inductor, their
    on-disk caches) rather than from the model: by its type's module or its traceback."""
    if type(e).__module__.startswith(("torch._dynamo", "torch._inductor")):
        return True
    tb = e.__traceback__
    while tb is not None:
        if "/torch/_inductor/" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def guarded(step):
    """``step`` for a compiled run: a failure of the compiler (a cache that a killed run
    left damaged, say) is retried once with a fresh, empty cache, with one line saying so;
    a second one is one line asking to train without --compile, never a traceback."""
    import os
    import sys
    import tempfile

    from ..errors import DfmganError

    state = {"retried": False}

    def run(*args):
        try:
            return step(*args)
        except Exception as e:  # noqa: BLE001 (only the compiler's are handled)
            if not from_compiler(e):
                raise
            reason = " ".join(str(e).split())[:200] or type(e).__name__
            if state["retried"]:
                raise DfmganError(f"torch.compile failed again with a fresh cache ({reason}); "
                                  "train without --compile") from None
            state["retried"] = True
            fresh = tempfile.mkdtemp(prefix="dfmgan-inductor-")
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = fresh
            torch._dynamo.reset()
            print(f"dfmgan: torch.compile failed ({reason}); retrying with a fresh cache in "
                  f"{fresh}", file=sys.stderr)
            return run(*args)

    return run
