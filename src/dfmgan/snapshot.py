"""The Python face of a trained generator::

    from dfmgan import load_generator
    G = load_generator("runs/demo")
    images = G.sample(16, seed=0)  # uint8 (16, C, H, W)
"""
from __future__ import annotations

from pathlib import Path

import torch

from . import zoo
from .checkpoint import load_latest_state, load_module_state
from .layout import state_paths
from .reading import parse_json
from .snapshot_file import D_SNAPSHOT, EMA_SNAPSHOT, SNAPSHOT, read_snapshot, snapshot_path
from .models import Discriminator, Generator
from .sampling import sample


class LoadedGenerator:
    """A generator with its config and the metadata of the run that made it."""

    def __init__(self, net: Generator, meta: dict):
        self.net, self.meta = net, meta

    @property
    def cfg(self):
        """The network's ``NetConfig`` (one name everywhere: ``Generator.cfg`` too)."""
        return self.net.cfg

    def to(self, device) -> "LoadedGenerator":
        self.net.to(device)
        return self

    def sample(self, n: int, seed: int = 0, mode: str = "batch", labels=None,
               truncation: float = 1.0) -> torch.Tensor:
        return sample(self.net, n, seed, mode, labels, truncation=truncation)


def load_generator(source, device: str | torch.device = "cpu", ema: bool = True) -> LoadedGenerator:
    """Load a run folder's generator, a snapshot file, or a zoo model (``"zoo:NAME"``). A
    run that kept an EMA of G (``train --ema``) gives the EMA, ``generator_ema.safetensors``,
    unless ``ema`` is False."""
    source = zoo.resolve(source)
    name = EMA_SNAPSHOT if ema and Path(source, EMA_SNAPSHOT).is_file() else SNAPSHOT
    cfg, weights, meta = read_snapshot(source, name)
    G = Generator(cfg)
    load_module_state(G, weights, str(snapshot_path(source, name)))
    return LoadedGenerator(G.to(device).eval(), meta)


def load_discriminator(source, device: str | torch.device = "cpu") -> tuple[Discriminator, dict]:
    """(D in eval mode, meta) from ``discriminator.safetensors``, a run folder or a zoo
    model; a run from before D was exported gives its D from the newest training state."""
    path = Path(zoo.resolve(source))
    if path.is_dir() and not (path / D_SNAPSHOT).exists() and state_paths(path):
        return discriminator_from_state(path, device)
    cfg, weights, meta = read_snapshot(path, D_SNAPSHOT)
    D = Discriminator(cfg)
    load_module_state(D, weights, str(snapshot_path(path, D_SNAPSHOT)))
    return D.to(device).eval(), meta


def discriminator_from_state(run_dir: Path, device) -> tuple[Discriminator, dict]:
    from .config import from_dict

    state = load_latest_state(run_dir)
    cfg = from_dict(parse_json(state["config"]), where=f"{run_dir} checkpoint config")
    D = Discriminator(cfg.net)
    load_module_state(D, state["objective"]["modules"]["D"], f"{run_dir} checkpoint")
    meta = {"step": state["step"], "data": cfg.data.name, "objective": cfg.objective.name}
    return D.to(device).eval(), meta
