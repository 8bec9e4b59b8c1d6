"""The Python face of a trained generator::

    from dfmgan import load_generator
    G = load_generator("runs/demo")
    images = G.sample(16, seed=0)  # uint8 (16, C, H, W)
"""
from __future__ import annotations

import torch

from .checkpoint import D_SNAPSHOT, load_module_state, read_snapshot, snapshot_path
from .models import Discriminator, Generator
from .sampling import sample


class LoadedGenerator:
    """A generator with its config and the metadata of the run that made it."""

    def __init__(self, net: Generator, meta: dict):
        self.net, self.meta = net, meta

    @property
    def config(self):
        return self.net.cfg

    def to(self, device) -> "LoadedGenerator":
        self.net.to(device)
        return self

    def sample(self, n: int, seed: int = 0, mode: str = "batch", labels=None) -> torch.Tensor:
        return sample(self.net, n, seed, mode, labels)


def load_generator(source, device: str | torch.device = "cpu") -> LoadedGenerator:
    """Load ``generator.safetensors`` from a run folder or a snapshot path."""
    cfg, weights, meta = read_snapshot(source)
    G = Generator(cfg)
    load_module_state(G, weights, str(snapshot_path(source)))
    return LoadedGenerator(G.to(device).eval(), meta)


def load_discriminator(source, device: str | torch.device = "cpu") -> tuple[Discriminator, dict]:
    """(D in eval mode, meta) from a run folder or ``discriminator.safetensors``."""
    cfg, weights, meta = read_snapshot(source, D_SNAPSHOT)
    D = Discriminator(cfg)
    load_module_state(D, weights, str(snapshot_path(source, D_SNAPSHOT)))
    return D.to(device).eval(), meta
