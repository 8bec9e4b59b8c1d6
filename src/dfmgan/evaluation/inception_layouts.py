"""The two file layouts of the FID Inception weights, and the name map between them.

* NVIDIA's TorchScript port (``inception_v3.py`` uses its names): ``layers.mixed_4.tower_1.conv_2``
  with ``weight``/``beta``/``mean``/``var`` per conv; no classifier.
* torch-fidelity's and pytorch-fid's state dict (torchvision's names): ``Mixed_6b.branch7x7dbl_3``
  with ``conv.weight`` and ``bn.{weight,bias,running_mean,running_var}``, plus ``fc`` (1008
  classes), which the Inception score reads.

The map is written out block by block because the two number their branches differently."""
from __future__ import annotations

import torch


def tower(ours: str, theirs: str, n: int, first: int = 1) -> dict[str, str]:
    """{their branchN: our tower.conv_k}: a chain of n convs."""
    return {f"{theirs}{first + i}": f"{ours}.conv" + (f"_{i}" if i else "") for i in range(n)}


A = {"branch1x1": "conv", **tower("tower", "branch5x5_", 2), **tower("tower_1", "branch3x3dbl_", 3),
     "branch_pool": "tower_2.conv"}
B = {"branch3x3": "conv", **tower("tower", "branch3x3dbl_", 3)}
C = {"branch1x1": "conv", **tower("tower", "branch7x7_", 3), **tower("tower_1", "branch7x7dbl_", 5),
     "branch_pool": "tower_2.conv"}
D = {**tower("tower", "branch3x3_", 2), **tower("tower_1", "branch7x7x3_", 4)}
E = {"branch1x1": "conv", "branch3x3_1": "tower_conv", "branch3x3_2a": "tower_mixed_conv",
     "branch3x3_2b": "tower_mixed_conv_1", "branch3x3dbl_1": "tower_1_conv",
     "branch3x3dbl_2": "tower_1_conv_1", "branch3x3dbl_3a": "tower_1_mixed_conv",
     "branch3x3dbl_3b": "tower_1_mixed_conv_1", "branch_pool": "tower_2_conv"}
STEM = {"Conv2d_1a_3x3": "conv", "Conv2d_2a_3x3": "conv_1", "Conv2d_2b_3x3": "conv_2",
        "Conv2d_3b_1x1": "conv_3", "Conv2d_4a_3x3": "conv_4"}
BLOCKS = [("Mixed_5b", A), ("Mixed_5c", A), ("Mixed_5d", A), ("Mixed_6a", B), ("Mixed_6b", C),
          ("Mixed_6c", C), ("Mixed_6d", C), ("Mixed_6e", C), ("Mixed_7a", D), ("Mixed_7b", E),
          ("Mixed_7c", E)]  # in order: mixed, mixed_1, ..., mixed_10


def conv_names() -> dict[str, str]:
    """{their BasicConv2d prefix: our Conv2dLayer prefix}, all 94 convs."""
    out = {theirs: f"layers.{ours}" for theirs, ours in STEM.items()}
    for i, (block, branches) in enumerate(BLOCKS):
        mixed = "layers.mixed" + (f"_{i}" if i else "")
        out.update({f"{block}.{b}": f"{mixed}.{ours}" for b, ours in branches.items()})
    return out


PARTS = {"conv.weight": "weight", "bn.bias": "beta", "bn.running_mean": "mean",
         "bn.running_var": "var"}


def from_fidelity(state: dict) -> dict[str, torch.Tensor]:
    """torch-fidelity's names -> ours. Its BatchNorm scale must be 1 (TF's graph has none);
    a KeyError names the first tensor missing, a ValueError a scale that is not 1."""
    out = {}
    for theirs, ours in conv_names().items():
        out.update({f"{ours}.{b}": state[f"{theirs}.{a}"] for a, b in PARTS.items()})
        scale = state.get(f"{theirs}.bn.weight")
        if scale is not None and not torch.all(scale == 1):
            raise ValueError(f"{theirs}.bn.weight is not 1: not the FID graph")
    if "fc.weight" in state:
        out["fc.weight"], out["fc.bias"] = state["fc.weight"], state["fc.bias"]
    return out


def to_fidelity(state: dict) -> dict[str, torch.Tensor]:
    """Ours -> torch-fidelity's names (BatchNorm scale 1); what the cross-check loads."""
    out = {}
    for theirs, ours in conv_names().items():
        out.update({f"{theirs}.{a}": state[f"{ours}.{b}"] for a, b in PARTS.items()})
        out[f"{theirs}.bn.weight"] = torch.ones_like(state[f"{ours}.beta"])
    return out


def is_fidelity(state: dict) -> bool:
    return "Conv2d_1a_3x3.conv.weight" in state
