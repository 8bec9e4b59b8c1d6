"""One feature-extraction path for every metric (cf. edm2's Detector): uint8 NCHW images
in, float features out. A feature network gives ``pool`` features (N, F) for FID, KID
and precision/recall and ``logits`` (N, K) for the Inception score and class coverage.

Bundled offline networks, used whenever the data matches:
  * ``fashion-mnist``: a small classifier trained on Fashion-MNIST's train split;
  * ``digits``: the same net trained on scikit-learn's digits;
  * ``clipart``: an RGB one, twice as wide, trained on the clip-art and emoji train split
    (31 classes: 22 clip-art categories and 9 emoji groups).
Each ships as safetensors with a JSON record of its training run and test accuracy.
Any other data is measured with the standard Inception network (``inception.py``)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from tqdm import tqdm

from ..errors import DfmganError
from .classifier import SmallClassifier, prepare
from .feature_net import FeatureNet, Features

WEIGHTS = Path(__file__).with_name("weights")
STANDARD = "inception"  # everything else: evaluation/inception.py (an optional extra)


class BundledNet(FeatureNet):
    def __init__(self, name: str):
        super().__init__()
        path = WEIGHTS / f"{name}.safetensors"
        if not path.exists():
            raise DfmganError(f"bundled feature network {name!r} is missing ({path})")
        from safetensors.torch import load_file

        self.meta = json.loads(path.with_suffix(".json").read_text())
        m = self.meta  # nets trained before colour and class counts were recorded: grey, 10
        self.net = SmallClassifier(m.get("size", 28), m.get("n_classes", 10), m.get("width", 32),
                                   channels=m.get("channels", 1))
        self.net.load_state_dict(load_file(path))
        self.net.eval()
        self.name, self.sha256 = f"bundled:{name}", hashlib.sha256(path.read_bytes()).hexdigest()
        self.choice, self.input_size = name, self.net.size

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return prepare(images, self.net.size, self.net.channels)

    def forward(self, x: torch.Tensor):
        pool, logits = self.net(x)
        return pool / self.meta["feature_scale"], logits  # E|pool|²/F = 1 on the train split

    def provenance(self) -> dict:
        return {**super().provenance(), "feature_scale": self.meta["feature_scale"]}


def feature_net_for(data: str | None, name: str | None = None,
                    inception_weights=None) -> FeatureNet:
    """The net named (a bundled one or ``inception``); else the bundled net that matches
    ``data``; else the standard Inception network."""
    from ..data import facts

    info = facts(data)
    name = name or (info.feature_net if info is not None else None) or STANDARD
    if name == STANDARD:
        from .inception import InceptionNet

        return InceptionNet.standard(inception_weights)
    if name not in known_nets():
        raise DfmganError(f"unknown feature network {name!r}; known: {', '.join(known_nets())}")
    return BundledNet(name)


def needs_extra(data: str | None) -> None:
    """One line, before any work, where ``data``'s feature network is the standard Inception
    one and its weights are nowhere to be found."""
    from ..data import facts

    info = facts(data)
    if not (info is not None and info.feature_net):
        from .inception import weights_file

        weights_file()


def known_nets() -> list[str]:
    """The bundled networks' names, then ``inception``."""
    return sorted(p.stem for p in WEIGHTS.glob("*.safetensors")) + [STANDARD]


@torch.no_grad()
def extract(net: FeatureNet, images: torch.Tensor, batch: int | None = None, device="cpu",
            progress: bool = False, desc: str = "features") -> Features:
    """uint8 (N, C, H, W) -> Features; float64 so covariance sums stay exact enough. The
    bar counts images, so it shows images/s and the time left."""
    net.to(device).eval()
    batch = batch or (net.gpu_batch if torch.device(device).type == "cuda" else net.batch)
    pools, logits = [], []
    bar = tqdm(total=len(images), desc=desc, unit="img", disable=not progress, leave=False)
    for i in range(0, len(images), batch):
        # one memory layout whatever the images' (G's output is channels-last, and a
        # one-channel tensor is "contiguous" with any channel stride): the same pixels
        # then reach the same kernels, and give the same features, from a run or a file
        x = net.prepare(images[i:i + batch]).clone(memory_format=torch.contiguous_format)
        p, l = net(x.to(device))
        pools.append(p.double().cpu())
        if l is not None:
            logits.append(l.double().cpu())
        bar.update(len(x))
    bar.close()
    return Features(torch.cat(pools), torch.cat(logits) if logits else None)
