"""Cheap FID during training, and the best checkpoint by it.

A DCGAN run can collapse after its best point (a reported StudioGAN run went from FID
49 to 137), so every ``eval_every`` steps the trainer scores G on ``eval_n`` samples
from a fixed latent set against the same real images, with the bundled feature network,
and keeps the checkpoint and snapshot with the lowest FID in ``RUN/best/``."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..checkpoint import atomic_write, export_snapshot, write_state
from ..data import draw
from ..sampling import generate
from .features import extract, feature_net_for
from .registry import MetricOptions, get_metric


class TrainingEvaluator:
    def __init__(self, source, data: str, G, n: int, seed: int, device):
        self.net = feature_net_for(data)
        g = torch.Generator().manual_seed(seed + 3)
        real = draw(source, n, g)
        self.real = extract(self.net, real, device=device)  # computed once per run
        self.z = G.sample_latent(len(real), g)  # (n, nz): the same latents every time
        n_cls = G.cfg.n_classes
        self.labels = torch.arange(len(real)) % n_cls if n_cls else None
        self.device = device

    def fid(self, G) -> float:
        images = generate(G, self.z, self.labels, "batch")
        gen = extract(self.net, images, device=self.device)
        return get_metric("fid")(gen, self.real, MetricOptions())["fid"]


class BestKeeper:
    """``RUN/best/``: the lowest-FID state, its snapshot and ``best.json``."""

    def __init__(self, run_dir: Path):
        self.folder = Path(run_dir) / "best"
        record = self.folder / "best.json"
        self.best = json.loads(record.read_text()) if record.exists() else None

    def offer(self, step: int, fid: float, state: dict, G, meta: dict) -> bool:
        if self.best is not None and fid >= self.best["fid"]:
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        write_state(self.folder / "state.pt", step, state)
        export_snapshot(self.folder, G, {**meta, "fid": fid})
        self.best = {"step": step, "fid": fid}
        atomic_write(self.folder / "best.json", json.dumps(self.best).encode())
        return True
