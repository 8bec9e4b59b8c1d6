"""The small classifier behind the offline feature networks.

Images are brought to the net's size and channels (``prepare``: grey for the grey sets,
RGB for the colour clip art; each bundled net works at its dataset preset's size, so
samples are never resized twice), then two conv blocks and a 128-unit penultimate layer:
``pool`` features (N, 128) feed FID, KID and precision/recall; ``logits`` (N, K) feed the
Inception score and class coverage, as Inception's pool3 and logits do for the standard
metrics."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data.transforms import match_channels, resize_uint8

def prepare(images: torch.Tensor, size: int, channels: int = 1) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float (N, channels, size, size) in [0, 1]."""
    return resize_uint8(match_channels(images.cpu(), channels), size).float().div_(255)


class SmallClassifier(nn.Module):
    def __init__(self, size: int = 28, n_classes: int = 10, width: int = 32, n_features: int = 128,
                 channels: int = 1):
        super().__init__()
        self.size, self.channels = size, channels
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.MaxPool2d(2),  # (N, w, size/2, size/2)
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(True),
            nn.MaxPool2d(2),  # (N, 2w, size/4, size/4)
            nn.Flatten(), nn.Dropout(0.3),
            nn.Linear(2 * width * (size // 4) ** 2, n_features), nn.ReLU(True))
        self.head = nn.Linear(n_features, n_classes)
        self.num_features, self.num_classes = n_features, n_classes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, channels, size, size) in [0, 1] -> (pool (N, 128), logits (N, K))."""
        h = self.body(x)
        return h, self.head(h)


def train_classifier(images: torch.Tensor, labels: torch.Tensor, size: int, epochs: int,
                     seed: int = 0, batch: int = 128, progress: bool = True,
                     **arch) -> SmallClassifier:
    """Adam with light augmentation (±2 px shifts); returns the net in eval mode.
    ``arch``: SmallClassifier's channels, n_classes and width."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    net = SmallClassifier(size, **arch)
    x = prepare(images, size, net.channels)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * (len(x) // batch))
    g = torch.Generator().manual_seed(seed)
    for _ in tqdm(range(epochs), desc="classifier epochs", disable=not progress):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x) - batch + 1, batch):
            idx = perm[i:i + batch]
            xb = torch.roll(x[idx], shifts=tuple(torch.randint(-2, 3, (2,), generator=g).tolist()),
                            dims=(2, 3))
            loss = F.cross_entropy(net(xb)[1], labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: SmallClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    preds = torch.cat([net(prepare(images[i:i + 1000], net.size, net.channels))[1].argmax(1)
                       for i in range(0, len(images), 1000)])
    return (preds == labels).double().mean().item()


@torch.no_grad()
def feature_scale(net: SmallClassifier, images: torch.Tensor) -> float:
    """sqrt(E |pool(x)|² / F) over ``images``: dividing by it puts the features on the scale
    KID's kernel (x·y/F + 1)³ was made for (Inception's pool3), where raw ReLU features
    would make the kernel, and the estimate's variance, explode."""
    total, n = 0.0, 0
    for i in range(0, len(images), 1000):
        pool = net(prepare(images[i:i + 1000], net.size, net.channels))[0].double()
        total, n = total + pool.pow(2).sum().item(), n + pool.numel()
    return (total / n) ** 0.5
