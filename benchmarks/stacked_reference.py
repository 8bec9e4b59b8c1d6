"""The `modes` metric on real stacked images: the ceiling a generator can reach, since the
per-channel classifier's own errors blur the mode histogram.

    python benchmarks/stacked_reference.py --data stacked-fashion-mnist

Scores 26,000 images (PacGAN's sample count) of the test split (the base set's test images,
stacked) and 26,000 drawn from the training split, and prints a Markdown table."""
from __future__ import annotations

import argparse
import time

import torch

from dfmgan.data import draw, load_dataset
from dfmgan.evaluation.registry import Images, MetricOptions, get_metric
from dfmgan.resolver import build_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="stacked-fashion-mnist")
    ap.add_argument("--n", type=int, default=26_000)
    args = ap.parse_args()
    size = build_config(args.data).net.size
    print(f"| {args.data} images | n | modes (of 1,000) | KL(p ‖ uniform) | largest mode | s |")
    print("|---|---:|---:|---:|---:|---:|")
    for split in ("test", "train"):
        source = load_dataset(args.data, split=split, size=size)
        images = draw(source, args.n, torch.Generator().manual_seed(0))
        t0 = time.perf_counter()
        out = get_metric("modes")(Images(images, args.data), MetricOptions())
        print(f"| real, {split} split | {len(images):,} | {out['modes']} | {out['modes_kl']:.3f} "
              f"| {out['modes_max_share']:.4f} | {time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
