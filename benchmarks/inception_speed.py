"""Images per second of the standard FID Inception network (`--feature-net inception`), warm,
by batch size, memory layout and thread count: the cost of a standard FID on this machine.

    python benchmarks/inception_speed.py [--device cuda] [--n 64]

Each row: one warm-up batch, then ``n`` images of 32 px (upsampled to 299 inside), timed.
"""
from __future__ import annotations

import argparse
import time

import torch

from dfmgan.evaluation.features import extract
from dfmgan.evaluation.inception import InceptionNet


def rate(net: InceptionNet, images: torch.Tensor, batch: int, device: str) -> float:
    extract(net, images[:batch], batch=batch, device=device)  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    extract(net, images, batch=batch, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return len(images) / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--threads", default="1,2")
    a = p.parse_args()
    net = InceptionNet.standard()
    images = torch.randint(0, 256, (a.n, 3, 32, 32), dtype=torch.uint8)
    print("| device | threads | layout | batch | images/s |\n|---|---:|---|---:|---:|")
    layouts = {"channels-last": torch.channels_last, "NCHW": torch.contiguous_format}
    batches = (8, 32) if a.device == "cpu" else (50, 250)
    for threads in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(threads)
        for name, layout in layouts.items():
            net.net.to(memory_format=layout)
            net.net.memory_format = layout
            for b in batches:
                r = rate(net, images, b, a.device)
                print(f"| {a.device} | {threads} | {name} | {b} | {r:.1f} |", flush=True)


if __name__ == "__main__":
    main()
