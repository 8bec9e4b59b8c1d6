"""scikit-learn's bundled handwritten digits (1,797 images of 8x8, 17 grey levels):
the embedded default, available on every machine with no download."""
from __future__ import annotations

import numpy as np
import torch

from .base import ArraySource, describe
from .registry import register_dataset

TEST = 360  # the last 360 images form the test split (no official split exists)


@register_dataset("digits", splits=("train", "test", "all"), needs_root=False, preset="digits",
                  feature_net="digits", shape=(1, 8, 8),
                  sizes={"train": 1797 - TEST, "test": TEST, "all": 1797})
def load_digits(root, split: str) -> ArraySource:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # (1797, 1, 8, 8)
    labels = d.target.astype(np.int64)
    sl = {"train": slice(0, -TEST), "test": slice(-TEST, None), "all": slice(None)}[split]
    x, y = torch.from_numpy(images[sl]), torch.from_numpy(labels[sl])
    return ArraySource(x, y, describe(f"digits[{split}] (scikit-learn)", len(x), x.shape[1:]),
                       [str(i) for i in range(10)])
