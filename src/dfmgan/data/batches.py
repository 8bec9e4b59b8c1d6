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


class Prefetcher:
    """The next ``depth`` batches gathered while the current step computes (cf. a
    DataLoader's workers and ``pin_memory``). Their indices come from a look-ahead copy of
    the sampler, and each batch handed out is checked to be the one the sampler itself
    gives next, so the order, and every bit trained, is the same with prefetch on or off
    and across a resume (``reset`` after the sampler's state is loaded). A background
    thread does the gathering: an array's or memory-map's rows, or a streamed source's
    decodes (its own thread pool); with ``pin``, the batch is copied into pinned memory
    there, so that the copy to the GPU can be ``non_blocking``. ``depth`` 0 gathers in
    the step itself."""

    def __init__(self, source, sampler: BatchSampler, take, depth: int = 2, pin: bool = False):
        self.source, self.sampler, self.take, self.depth, self.pin = source, sampler, take, depth, pin
        self.pending: list = []
        self.pool = None
        self.reset()

    def reset(self) -> None:
        """Forget what was gathered ahead: the sampler's state changed (a resume)."""
        import copy

        self.pending.clear()
        self.ahead = copy.deepcopy(self.sampler)

    def gather(self, idx: torch.Tensor):
        images, labels = self.source.get(idx)
        if self.pin and images.device.type == "cpu":
            images = images.pin_memory()
        return images, labels

    def next(self):
        """(images, labels, seconds the step waited for them) of the sampler's next batch."""
        import time

        idx = self.take(self.sampler)
        t0 = time.perf_counter()
        if self.depth <= 0:
            images, labels = self.gather(idx)
            return images, labels, time.perf_counter() - t0
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(1, thread_name_prefix="dfmgan-prefetch")
        while len(self.pending) < self.depth + 1:
            ahead = self.take(self.ahead)
            self.pending.append((ahead, self.pool.submit(self.gather, ahead)))
        ahead, future = self.pending.pop(0)
        if not torch.equal(ahead, idx):  # never expected: the look-ahead lost step; refetch
            self.reset()
            images, labels = self.gather(idx)
            return images, labels, time.perf_counter() - t0
        images, labels = future.result()
        return images, labels, time.perf_counter() - t0
