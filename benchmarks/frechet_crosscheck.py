"""dfmgan's FID against pytorch-fid's ``calculate_frechet_distance`` on the same cached
standard-Inception features (``benchmarks/standard_fid.py --cache``), pair by pair: the
Fréchet step of the two implementations, on real 2,048-d features. Needs pytorch-fid
(the ``.venv-inception`` of ``make test-inception`` has it).

    .venv-inception/bin/python benchmarks/frechet_crosscheck.py runs/standard-fid-features
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from pytorch_fid.fid_score import calculate_frechet_distance

from dfmgan.evaluation.api import score
from dfmgan.evaluation.feature_net import Features
from dfmgan.evaluation.registry import MetricOptions


def main(cache: Path) -> None:
    feats = {p.stem: torch.load(p, weights_only=True) for p in sorted(cache.glob("*-inception-*.pt"))}
    print("| judged | reference | dfmgan FID | pytorch-fid | relative difference |\n|---|---|---:|---:|---:|")
    for a in feats:
        for b in feats:
            if a >= b or a.split("-")[0] != b.split("-")[0] or not ("train" in b or "test" in b):
                continue
            ours = score(Features(feats[a], None), Features(feats[b], None), ["fid"], MetricOptions())["fid"]
            x, y = feats[a].numpy(), feats[b].numpy()
            theirs = calculate_frechet_distance(x.mean(0), np.cov(x, rowvar=False),
                                                y.mean(0), np.cov(y, rowvar=False))
            print(f"| {a} | {b} | {ours:.6f} | {theirs:.6f} | {abs(ours - theirs) / theirs:.1e} |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/standard-fid-features"))
