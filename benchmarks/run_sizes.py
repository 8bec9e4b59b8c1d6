"""Checkpoint and run-folder sizes of gan and dfm at every preset: a checkpoint's size
from its networks (``checkpoint.state_bytes``: each parameter with Adam's two moments, the
buffers, the EMA), the checkpoints a run keeps by default, and their total. The networks
are built on torch's meta device, so no preset's weights are allocated.

    python benchmarks/run_sizes.py
"""
from __future__ import annotations

import torch

from dfmgan.checkpoint import state_bytes
from dfmgan.models import Discriminator, Generator
from dfmgan.objectives import build_objective
from dfmgan.presets import PRESETS
from dfmgan.resolver import build_config


def size(preset: str, objective: str) -> tuple[float, int]:
    """(MB of one checkpoint, checkpoints kept by default)."""
    cfg = build_config(preset, overrides={"objective": {"name": objective}})
    with torch.device("meta"):
        G, D = Generator(cfg.net), Discriminator(cfg.net)
        obj = build_objective(G, D, cfg.objective, cfg.optim)
    ema = G if cfg.ema else None  # an EMA copy is G's size
    return state_bytes(obj.modules(), ema) / 1e6, cfg.keep


def main() -> None:
    print("| preset | gan: MB a checkpoint | kept | gan run's checkpoints | dfm: MB a checkpoint "
          "| kept | dfm run's checkpoints |\n|---|---:|---:|---:|---:|---:|---:|")
    for preset in PRESETS:
        cells = []
        for objective in ("gan", "dfm"):
            mb, keep = size(preset, objective)
            cells += [f"{mb:,.1f}", str(keep), f"{mb * keep:,.0f} MB"]
        print(f"| {preset} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
