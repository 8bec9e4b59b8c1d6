"""Networks only: no losses, no optimizers.

Names are imported on first use (PEP 562), so reading a ``NetConfig`` (``dfmgan info``,
``--help``) does not import torch."""
from __future__ import annotations

import importlib

_WHERE = {
    "SIZES": "netconfig", "NetConfig": "netconfig",
    "DFeatures": "interface", "GeneratorLike": "interface", "DiscriminatorLike": "interface",
    "Discriminator": "dcgan", "Generator": "dcgan", "layout": "dcgan",
    "Denoiser": "denoiser", "annealed_sigma": "denoiser", "corrupt": "denoiser",
    "MLPDiscriminator": "mlp", "MLPGenerator": "mlp",
    "AutoencoderConfig": "autoencoder", "HashAutoencoder": "autoencoder",
}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
