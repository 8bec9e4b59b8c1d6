"""The standard Inception network of FID (Heusel et al. 2017) and the Inception score
(Salimans et al. 2016): Inception-v3 with the TensorFlow weights of 2015-12-05, ported to
PyTorch, as torch-fidelity, torchmetrics and pytorch-fid use them.

It is an optional extra (``pip install -e '.[inception]' in the dfmgan checkout``): the architecture comes
from torch-fidelity, which needs torchvision. The weights come from, in this order,
``--inception-weights PATH``, ``$DFMGAN_INCEPTION_WEIGHTS``, or torch's hub cache
(``$TORCH_HOME/hub/checkpoints``), where they are downloaded on first use under the same
name torch-fidelity and torchmetrics use, so all three share one copy."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from unittest import mock
from urllib.error import URLError

import torch

from ..errors import DfmganError
from .feature_net import FeatureNet

URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
       "weights-inception-2015-12-05-6726825d.pth")
ENV = "DFMGAN_INCEPTION_WEIGHTS"
OUTPUTS = ["2048", "logits_unbiased"]  # pool (N, 2048) for FID/KID/PR; logits (N, 1008) for IS
EXTRA = "pip install -e '.[inception]' in the dfmgan checkout  (torch-fidelity and torchvision)"


def cache_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / URL.rsplit("/", 1)[1]


def weights_file(path: str | os.PathLike | None = None) -> Path:
    """The weight file to read: the one given, else the cached one, downloaded if need be."""
    given = path or os.environ.get(ENV)
    if given:
        if not Path(given).is_file():
            raise DfmganError(f"Inception weights not found: {given}")
        return Path(given)
    target = cache_path()
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:  # torch writes to a temporary file and renames it: no torn cache entry
            torch.hub.download_url_to_file(URL, str(target), progress=True)
        except (URLError, OSError, ValueError) as e:
            raise DfmganError(
                f"the standard Inception weights are not cached and could not be downloaded "
                f"({str(getattr(e, 'reason', e))[:80]}); download {URL} and put it at {target}, or pass "
                f"--inception-weights PATH (or set ${ENV})") from None
    return target


def read_weights(path: Path) -> dict:
    try:  # a plain state dict of tensors: nothing in it needs to run code
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise DfmganError(f"{path} is not a PyTorch weight file "
                          f"({str(e).splitlines()[0][:120]})") from None
    if not isinstance(state, dict):
        raise DfmganError(f"{path} holds a {type(state).__name__}, not a state dict")
    return state


def fidelity_module():
    """torch-fidelity's Inception module, or one line saying how to install it."""
    try:
        from torch_fidelity import feature_extractor_inceptionv3 as fe
    except Exception as e:  # ImportError, or torchvision built for another torch
        raise DfmganError(f"the standard Inception network needs the optional extra: {EXTRA} "
                          f"[{type(e).__name__}: {str(e).splitlines()[0][:100]}]") from None
    return fe


def build_inception(state: dict, origin: str) -> torch.nn.Module:
    """torch-fidelity's FID Inception, loaded strictly from ``state``."""
    fe = fidelity_module()
    # Its constructor downloads the weights itself, or reads a given path with
    # torch.load(weights_only=False); hand it the state dict read safely above instead.
    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: state):
        try:
            return fe.FeatureExtractorInceptionV3("inception-v3-compat", OUTPUTS)
        except RuntimeError as e:  # load_state_dict(strict=True): wrong names or shapes
            raise DfmganError(f"{origin} is not the FID Inception weight file "
                              f"({str(e).splitlines()[1].strip()[:160]})") from None


class InceptionNet(FeatureNet):
    """uint8 images of any size; grayscale is repeated to RGB, and the network resizes to
    299×299 itself (TF1-compatible bilinear), as torch-fidelity does for FID."""

    name = "inception-v3-fid"

    def __init__(self, state: dict, origin: str, sha256: str):
        super().__init__()
        self.net = build_inception(state, origin)
        self.sha256 = sha256

    @classmethod
    def standard(cls, path: str | os.PathLike | None = None) -> "InceptionNet":
        fidelity_module()  # before any download: is the architecture there at all?
        file = weights_file(path)
        sha = hashlib.sha256(file.read_bytes()).hexdigest()
        return cls(read_weights(file), str(file), sha)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        # (N, 1|3, H, W) uint8 -> (N, 3, H, W) uint8
        return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images

    def forward(self, x: torch.Tensor):
        pool, logits = self.net(x)
        return pool, logits
