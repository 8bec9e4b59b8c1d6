"""Reference values of every metric in each bundled feature space: real data (the test
split) scored against real data (a sample of the train split) at the presets' size. A
generator can at best approach these numbers.

    python benchmarks/reference_metrics.py
"""
from __future__ import annotations

import math
import time

import torch

from dfmgan.data import draw, facts, load_dataset
from dfmgan.evaluation.api import DEFAULT_METRICS, score
from dfmgan.evaluation.features import extract, feature_net_for
from dfmgan.evaluation.registry import MetricOptions
from dfmgan.presets import PRESETS

SETS = {"fashion-mnist": 10_000, "digits": 360, "clipart": 1_079}  # n a side: the whole test split


def is_cell(r: dict) -> str:
    """IS ± std; one group (a small test split) has no std."""
    return f"{r['is']:.2f}" if math.isnan(r["is_std"]) else f"{r['is']:.2f} ± {r['is_std']:.2f}"


def main() -> None:
    print("| feature net | test acc. | n (test vs train) | FID | KID | precision | recall "
          "| IS (test) | class entropy | seconds |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for data, n in SETS.items():
        t0 = time.perf_counter()
        preset = PRESETS[facts(data).preset]["net"]  # the size and channels runs train at
        size, channels = preset["size"], preset["channels"]
        net = feature_net_for(data)
        train = load_dataset(data, split="train", size=size, channels=channels)
        ref = draw(train, n, torch.Generator().manual_seed(0))
        test = load_dataset(data, split="test", size=size, channels=channels).images[:n]
        r = score(extract(net, test), extract(net, ref), DEFAULT_METRICS,
                  MetricOptions(splits=10 if n >= 5000 else 1, kid_subset_size=min(1000, n)))
        print(f"| {net.name} | {100 * net.meta['test_accuracy']:.1f}% | {n} vs {n} "
              f"| {r['fid']:.3f} | {r['kid']:.5f} | {r['precision']:.3f} | {r['recall']:.3f} "
              f"| {is_cell(r)} "
              f"| {r['class_entropy']:.4f} "
              f"| {time.perf_counter() - t0:.0f} |")


if __name__ == "__main__":
    main()
