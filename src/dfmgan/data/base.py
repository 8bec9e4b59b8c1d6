"""What every loader returns: a source of uint8 images that can be indexed by batch.

``ArraySource`` holds a small set in memory; ``StreamingSource`` subclasses decode
only the images a batch asks for, so a folder or LMDB of millions stays within
bounded memory.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


# A decoded set is held in memory when its bytes fit this share of the memory available
# when it is loaded; a larger one streams or is memory-mapped (a count of images, as before,
# kept CelebA's 202,599 small faces out of memory for no reason).
MEMORY_SHARE = 0.25


def available_memory() -> int:
    """Bytes of memory available now (Linux's MemAvailable; else free pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 ** 31


def fits_in_memory(nbytes: int, limit: int | None = None) -> bool:
    """Whether ``nbytes`` of decoded images may be held in memory (``limit``: a byte budget
    instead of ``MEMORY_SHARE`` of what is available)."""
    return nbytes <= (int(available_memory() * MEMORY_SHARE) if limit is None else limit)


@dataclass
class ArraySource:
    """In-memory images (N, C, H, W) uint8 and optional labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor | None
    description: str
    classes: list[str] | None = None
    names: list[str] | None = None  # each image's name in the set (a relative path), if any
    files: list[Path] | None = None  # each image's own file, where images are files
    mapped: bool = False  # the images are a memory-map of a file (a large packed set)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def get(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B,) indices -> (B, C, H, W) uint8, labels (B,) or None."""
        lab = self.labels[idx.to(self.labels.device)] if self.labels is not None else None
        if self.images.device.type == "cpu":  # numpy's gather: 4x torch's for 64 px uint8
            return torch.from_numpy(self.images.numpy()[idx.numpy()]), lab  # rows (results)
        return self.images[idx.to(self.images.device)], lab  # the set may live on the GPU


class StreamingSource:
    """Decodes images on demand with a small thread pool (PIL releases the GIL)."""

    description = ""
    labels: torch.Tensor | None = None
    classes: list[str] | None = None
    names: list[str] | None = None  # each image's name in the set (a path, a key), if any
    files: list[Path] | None = None  # each image's own file, where images are files

    def __init__(self, size: int, channels: int, workers: int = 4):
        self.size, self.channels = size, channels
        self._pool = ThreadPoolExecutor(max_workers=workers)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)

    def decode(self, i: int) -> np.ndarray:  # -> (C, size, size) uint8
        raise NotImplementedError

    def get(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        arrays = list(self._pool.map(self.decode, idx.tolist()))
        lab = self.labels[idx] if self.labels is not None else None
        return torch.from_numpy(np.stack(arrays)), lab


def describe(name: str, n: int, shape, extra: str = "") -> str:
    c, h, w = shape
    return f"{name}: {n:,} images, {c}x{h}x{w}{extra}"


def draw(source, n: int, generator: torch.Generator) -> torch.Tensor:
    """Up to ``n`` distinct images of ``source`` (all when fewer), uint8 on the CPU."""
    return draw_labelled(source, n, generator)[0]


def draw_labelled(source, n: int, generator: torch.Generator):
    """(images, labels or None) of up to ``n`` distinct images, as ``draw`` picks them."""
    idx = torch.randperm(len(source), generator=generator)[:n]
    images, labels = source.get(idx)
    return images.cpu(), None if labels is None else labels.cpu()
