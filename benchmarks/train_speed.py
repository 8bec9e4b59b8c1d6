"""Training throughput (images/s) of one full training step for the presets' nets, on
random data: `gan` (alternating: G forward, 3 D passes, both backward passes, Adam) and
`dfm` (simultaneous: G forward, 2 D passes, the denoiser on real and generated
features, three backward passes, Adam on all three).

    python benchmarks/train_speed.py [--steps 10] [--batch 128] [--device cpu]

Prints a Markdown table; results are recorded in BENCHMARKS.md with the machine."""
from __future__ import annotations

import argparse
import platform
import time

import torch

from dfmgan.config import ObjectiveConfig, OptimConfig
from dfmgan.models import Discriminator, Generator, NetConfig
from dfmgan.objectives import build_objective

NETS = {  # name: (size, channels, width)
    "digits 32px (w32)": (32, 1, 32),
    "fashion-mnist 32px (w64)": (32, 1, 64),
    "cifar10 32px half-width (w64)": (32, 3, 64),
    "imagenet32 32px (w128)": (32, 3, 128),
    "lsun-bedroom 64px (w128)": (64, 3, 128),
}


def measure(size, ch, width, batch, steps, device, objective="gan") -> float:
    torch.manual_seed(0)
    cfg = NetConfig(size=size, channels=ch, g_width=width, d_width=width)
    G, D = Generator(cfg).to(device), Discriminator(cfg).to(device)
    scheme = "simultaneous" if objective == "dfm" else "alternating"
    obj = build_objective(G, D, ObjectiveConfig(objective, scheme), OptimConfig())
    real = torch.rand(batch, ch, size, size, device=device) * 2 - 1
    z = G.sample_latent(batch).to(device)
    for _ in range(2):  # warm-up
        obj.step(real, z)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        obj.step(real, z)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, device {device}, batch {args.batch}\n")
    print("| net | G params | D params | Φ size | gan images/s | dfm images/s |\n"
          "|---|---:|---:|---:|---:|---:|")
    for name, (size, ch, width) in NETS.items():
        cfg = NetConfig(size=size, channels=ch, g_width=width, d_width=width)
        gp = sum(p.numel() for p in Generator(cfg).parameters())
        dp = sum(p.numel() for p in Discriminator(cfg).parameters())
        gan = measure(size, ch, width, args.batch, args.steps, device, "gan")
        dfm = measure(size, ch, width, args.batch, args.steps, device, "dfm")
        n_h = Discriminator(cfg).feature_dim
        print(f"| {name} | {gp / 1e6:.2f}M | {dp / 1e6:.2f}M | {n_h} | {gan:.0f} | {dfm:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
