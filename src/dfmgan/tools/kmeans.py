"""Single-layer K-means features (Coates, Lee & Ng 2011), the unsupervised baseline the
DCGAN paper's Table 1 compares its discriminator features against.

Random 6×6 patches are brightness/contrast normalised and ZCA-whitened; K-means learns
K centroids; an image's patches (stride 1) are encoded by the "triangle" activation
f_k(x) = max(0, mean_j z_j − z_k), z_k = ‖x − c_k‖, and sum-pooled over the image's
four quadrants, giving 4K features. scikit-learn's MiniBatchKMeans learns the centroids;
the encoding is a few tensor operations, chunked so memory stays bounded."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

PATCH = 6


def patches(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, L, C·6·6) float32 in [0, 255], every 6×6 patch (stride 1)."""
    cols = nn.functional.unfold(images.float(), PATCH)  # (N, C·36, L)
    return cols.transpose(1, 2)


def normalise(p: torch.Tensor) -> torch.Tensor:
    """Per-patch brightness and contrast; the +10 keeps flat patches from blowing up."""
    return (p - p.mean(-1, keepdim=True)) / (p.var(-1, keepdim=True) + 10).sqrt()


@dataclass
class KMeansFeatures:
    mean: torch.Tensor  # (D,) patch mean, removed before whitening
    zca: torch.Tensor  # (D, D)
    centroids: torch.Tensor  # (K, D) in whitened space

    @classmethod
    def fit(cls, images: torch.Tensor, k: int = 1600, n_patches: int = 100_000,
            seed: int = 0) -> "KMeansFeatures":
        from sklearn.cluster import MiniBatchKMeans

        g = torch.Generator().manual_seed(seed)
        n, _, h, w = images.shape
        views = images.unfold(2, PATCH, 1).unfold(3, PATCH, 1)  # (N, C, h', w', 6, 6), no copy
        i, y, x = (torch.randint(0, m, (n_patches,), generator=g)
                   for m in (n, h - PATCH + 1, w - PATCH + 1))
        p = normalise(views[i, :, y, x].flatten(1).float())  # (n_patches, C·36)
        mean = p.mean(0)
        cov = torch.cov((p - mean).T.double())
        e, v = torch.linalg.eigh(cov)
        zca = (v @ torch.diag((e + 0.1).rsqrt()) @ v.T).float()  # ε = 0.1 as in the paper's code
        km = MiniBatchKMeans(k, random_state=seed, batch_size=4096, n_init=3)
        km.fit(((p - mean) @ zca).numpy())
        return cls(mean, zca, torch.from_numpy(km.cluster_centers_).float())

    def encode(self, images: torch.Tensor, chunk: int = 256, progress: bool = False) -> torch.Tensor:
        """uint8 (N, C, H, W) -> (N, 4K) float32."""
        out = []
        for i in tqdm(range(0, len(images), chunk), desc="k-means features",
                      disable=not progress, leave=False):
            out.append(self._encode(images[i:i + chunk]))
        return torch.cat(out)

    def _encode(self, images: torch.Tensor) -> torch.Tensor:
        n, _, h, w = images.shape
        x = (normalise(patches(images)) - self.mean) @ self.zca  # (n, L, D)
        z = torch.cdist(x, self.centroids[None].expand(n, -1, -1))  # (n, L, K)
        f = (z.mean(-1, keepdim=True) - z).clamp(min=0)  # triangle activation
        side_h, side_w = h - PATCH + 1, w - PATCH + 1
        f = f.transpose(1, 2).reshape(n, -1, side_h, side_w)  # (n, K, h', w')
        quads = nn.functional.adaptive_avg_pool2d(f, 2) * (side_h * side_w / 4)  # sums, (n, K, 2, 2)
        return quads.flatten(1)

