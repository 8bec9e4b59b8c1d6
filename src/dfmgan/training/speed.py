"""The speed settings (``SpeedConfig``) applied to a run: memory layout, compilation,
mixed precision and cuDNN autotuning. None of them changes what is trained, so all may
change on resume."""
from __future__ import annotations

import contextlib

import torch

from ..config import SpeedConfig
from ..errors import ConfigError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


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
    objective.set_precision(DTYPES.get(speed.precision), device)


def layout(x: torch.Tensor, speed: SpeedConfig) -> torch.Tensor:
    """A real batch (B, C, H, W) in the networks' memory layout."""
    return x.contiguous(memory_format=torch.channels_last) if speed.channels_last else x


def autocast(dtype: torch.dtype | None, device: torch.device):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
