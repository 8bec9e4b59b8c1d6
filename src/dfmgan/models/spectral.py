"""Spectral normalisation of D (Miyato et al. 2018, SNGAN): every convolution's weight
divided by its largest singular value, σ estimated by one power iteration per forward pass
in training mode, on the weight reshaped to (out, in·k·k) as SNGAN does (torch's
parametrization; its u and v vectors are buffers, so they are saved and resume exactly).
No BatchNorm: D maps each image on its own."""
from __future__ import annotations

from torch import nn

from ..cites import ICLR, bib
from .d_norms import DNorm, register_d_norm


@register_d_norm
class Spectral(DNorm):
    name, summary = "spectral", "spectral norm on every conv (SNGAN), no BatchNorm"
    cites = bib("miyato2018spectral", "Spectral Normalization for Generative Adversarial Networks",
                "Miyato, Takeru and Kataoka, Toshiki and Koyama, Masanori and Yoshida, Yuichi",
                ICLR, 2018)

    def finish(self, net):
        from torch.nn.utils.parametrizations import spectral_norm

        for module in list(net.modules()):
            if isinstance(module, nn.Conv2d):
                spectral_norm(module)
