"""One code path for 1 and N processes (cf. edm2's torch_utils/distributed.py).

Under ``torchrun`` (RANK / WORLD_SIZE / LOCAL_RANK in the environment) the process group
starts with NCCL on GPUs and gloo on the CPU; otherwise everything here is a no-op for
a single process. Data parallelism is PyTorch's all-reduce of gradients, done by the
objective right before each optimizer step (``average_gradients``), rather than by
wrapping G and D in ``DistributedDataParallel``: an objective runs several backward
passes per step, each through only some networks (G's loss goes through a frozen D),
which is exactly where DDP-wrapped GANs leak G's gradients into D or hang on unused
parameters. Averaging each network's own gradient, once, after its own backward, keeps
every update equal to the single-process update on the global batch.

BatchNorm statistics stay per process and per source (real or generated), as in
both papers' single-device training: each rank normalises its B/N-image shard."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def from_env() -> World:
    return World(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                 int(os.environ.get("LOCAL_RANK", 0)))


def init(device: torch.device) -> World:
    """Join the process group torchrun set up (once); a lone process gets World()."""
    world = from_env()
    if world.size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world


def local_device(device: torch.device, world: World) -> torch.device:
    """Each rank on its own GPU under torchrun."""
    if device.type == "cuda" and world.size > 1:
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    return device


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def average_gradients(module: nn.Module) -> None:
    """All-reduce the mean of ``module``'s gradients over ranks, in one flat buffer."""
    if not active():
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_module(module: nn.Module) -> None:
    """Rank 0's parameters and buffers everywhere (same seed gives the same init; this
    makes it so whatever the seed handling)."""
    if not active():
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, 0)


def barrier() -> None:
    if active():
        dist.barrier()


def any_signal(signum: int | None, device: torch.device) -> int | None:
    """A stop signal seen by any rank, on every rank (the largest number if several);
    None when no rank has one. A scheduler may signal one process only."""
    if not active():
        return signum
    t = torch.tensor([signum or 0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item()) or None


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
