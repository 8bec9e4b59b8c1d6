"""A resumable, seeded batch order.

The permutation of epoch ``e`` is ``randperm(N)`` drawn from a generator seeded with
``(seed, e)``, so the whole order is a pure function of (seed, epoch, position): the
state saved in a checkpoint is two integers and a resumed run sees the same batches.
Under several processes each rank takes a strided shard of the same global batch.
"""
from __future__ import annotations

import torch


class BatchSampler:
    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if batch_size % world:
            raise ValueError(f"global batch {batch_size} is not divisible by {world} processes")
        if n < batch_size:
            from ..errors import DataError
            raise DataError(f"dataset has {n} images, fewer than one batch of {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world = rank, world
        self.epoch, self.position = 0, 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=g)

    def next(self) -> torch.Tensor:
        """Indices of this rank's share of the next global batch; drops the ragged tail."""
        if self.position + self.batch_size > self.n:
            self.epoch, self.position = self.epoch + 1, 0
            self._perm = self._permutation(self.epoch)
        batch = self._perm[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return batch[self.rank::self.world]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._perm = self._permutation(self.epoch)

    @property
    def steps_per_epoch(self) -> int:
        return self.n // self.batch_size
