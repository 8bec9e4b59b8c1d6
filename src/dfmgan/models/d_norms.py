"""D's normalisations by name (``net.d_norm``). Each is a class under ``@register_d_norm``
in its own module of this package: the layers that follow each of D's inner convolutions,
whether that convolution keeps its bias, and anything done to the built net. A new one is
one file: ``d_norm`` imports every module that registers one (``discovery``)."""
from __future__ import annotations


from torch import nn

from ..discovery import class_registry, discover, lookup

D_NORMS, register_d_norm = class_registry()  # --d-norm NAME builds D with the class


class DNorm:
    name = ""
    summary = ""  # a few words, for --help
    cites: str = ""  # BibTeX of its paper (cites.bib)
    conv_bias = True  # False where the norm re-centres anyway (BatchNorm)

    def layers(self, channels: int, cfg) -> list[nn.Module]:
        """What follows an inner convolution with ``channels`` outputs (before LeakyReLU)."""
        return []

    def finish(self, net: nn.Module) -> None:
        """Anything done to the whole built D (spectral normalisation wraps its convs)."""


@register_d_norm
class Batch(DNorm):
    name, summary, conv_bias = "batch", "BatchNorm on each inner block (DCGAN)", False

    def layers(self, channels, cfg):
        return [nn.BatchNorm2d(channels, affine=cfg.bn_affine)]


@register_d_norm
class NoNorm(DNorm):
    name, summary = "none", "no normalisation"


def registered() -> dict[str, type[DNorm]]:
    """Every norm, by name, once each module that registers one is imported."""
    discover(__package__)
    return D_NORMS


def d_norm(name: str) -> DNorm:
    return lookup(registered(), name, "D normalisation")()
