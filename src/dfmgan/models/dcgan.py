"""DCGAN generator and discriminator (Radford, Metz & Chintala, ICLR 2016, §3).

The architecture guidelines of the paper, all followed here:
  * strided convolutions instead of pooling (D) and fractional-strided ones (G);
  * BatchNorm everywhere except G's output layer and D's input layer;
  * no fully connected hidden layers: G's first layer projects z with a
    transposed convolution on a 1x1 input, D's last layer is a convolution whose
    kernel covers the whole final feature map (the flattened map fed to one unit);
  * ReLU in G with Tanh at the output, LeakyReLU(0.2) in D.

Each resolution doubles ``n_up`` times from a ``base`` x ``base`` map, where
``size = base * 2**n_up`` and base is 3..7 (28 -> 7, 32 -> 4, 48 -> 6, 64 -> 4,
96 -> 6, 128 -> 4). Widths double towards the low-resolution end: with
``g_width=128`` the 64 px generator is 1024 -> 512 -> 256 -> 128 -> 3, the LSUN
net of the paper's Figure 1.
"""
from __future__ import annotations

import torch
from torch import nn

from .d_norms import d_norm
from .init import dcgan_init
from .interface import DFeatures
from .netconfig import NetConfig, layout


def _bn2d(ch: int, affine: bool) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(ch, affine=affine)


class Generator(nn.Module):
    """z (B, nz) -> images (B, C, size, size) in [-1, 1]."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        base, n_up = layout(cfg.size)
        widths = [cfg.g_width * 2 ** i for i in reversed(range(n_up))]  # e.g. [512, 256, 128]
        nin = cfg.nz + cfg.n_classes
        self.embed = nn.Embedding(cfg.n_classes, cfg.n_classes) if cfg.n_classes else None
        # Project: (B, nz, 1, 1) -> (B, widths[0], base, base)
        layers = [nn.ConvTranspose2d(nin, widths[0], base, 1, 0, bias=False),
                  _bn2d(widths[0], cfg.bn_affine), nn.ReLU(True)]
        for cin, cout in zip(widths[:-1], widths[1:]):
            # (B, cin, s, s) -> (B, cout, 2s, 2s)
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                       _bn2d(cout, cfg.bn_affine), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], cfg.channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)
        if self.embed is not None:
            nn.init.eye_(self.embed.weight)  # one-hot label code, as in the supplement

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], 1)  # (B, nz + n_classes)
        return self.net(z[:, :, None, None])

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, nz) latents on the CPU, so a seed gives the same z on any device."""
        if self.cfg.latent == "normal":
            return torch.randn(n, self.cfg.nz, generator=generator)
        return torch.rand(n, self.cfg.nz, generator=generator) * 2 - 1


class Discriminator(nn.Module):
    """images (B, C, size, size) -> logits (B,); ``features()`` also returns every block."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        base, n_up = layout(cfg.size)
        widths = [cfg.d_width * 2 ** i for i in range(n_up)]  # e.g. [128, 256, 512]
        cin, norm = cfg.channels + cfg.n_classes, d_norm(cfg.d_norm)
        blocks = [nn.Sequential(nn.Conv2d(cin, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True))]
        for a, b in zip(widths[:-1], widths[1:]):  # no norm on the input block (DCGAN §3)
            blocks.append(nn.Sequential(nn.Conv2d(a, b, 4, 2, 1, bias=norm.conv_bias),
                                        *norm.layers(b, cfg), nn.LeakyReLU(0.2, True)))
        self.blocks = nn.ModuleList(blocks)
        # The final map (B, widths[-1], base, base) -> one logit: a conv over the whole map.
        self.head = nn.Conv2d(widths[-1], 1, base, 1, 0)
        self.apply(dcgan_init)
        norm.finish(self)

    def feature_dims(self) -> list[int]:
        """Flattened size of each block's output; the last is Φ's size n_h."""
        return self.cfg.d_feature_dims()

    @property
    def feature_dim(self) -> int:
        return self.feature_dims()[-1]

    def _input(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.cfg.n_classes:
            return x
        # Label as constant one-hot planes, (B, n_classes, H, W), as in the supplement.
        onehot = nn.functional.one_hot(labels, self.cfg.n_classes).to(x.dtype)
        return torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> DFeatures:
        h, out = self._input(x, labels), []
        for block in self.blocks:
            h = block(h)
            out.append(h)
        return DFeatures(self.head(h).flatten(), out, x)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.features(x, labels).logits
