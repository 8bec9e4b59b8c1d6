"""Walking and doing arithmetic in G's latent space (DCGAN §6.1 and §6.3.2).

* Walks (Fig. 4): interpolate between k random latent points, by ``lerp`` (the paper)
  and by ``slerp``, the great-circle path (Shoemake 1985), which keeps a Gaussian
  latent's norm typical along the way (White 2016).
* Arithmetic (Fig. 7): average the z of three exemplars per concept, compute A − B + C,
  and render it with 8 neighbours drawn from ±0.25 uniform noise.
* The turn vector (Fig. 8): the difference of two averaged sets, added to base latents
  in growing amounts.

Exemplars are picked by index on a numbered sheet, ``dfmgan sample --numbered``; the
sheet's latents are ``sheet_latents(G, n, seed)``, the same ones that command draws.
Images are rendered with ``frozen_bn`` so each depends on its own latent only."""
from __future__ import annotations

import torch

from ..errors import DfmganError
from ..sampling import frozen_bn, generate


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(nz,), (nz,), (T,) -> (T, nz); exact at t = 0 and t = 1."""
    return torch.lerp(a[None], b[None], t[:, None].to(a.dtype))


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(nz,), (nz,), (T,) -> (T, nz) along the great circle from a to b (the norm
    interpolates too, so the endpoints are a and b themselves)."""
    cos = torch.dot(a, b) / (a.norm() * b.norm())
    omega = torch.arccos(cos.clamp(-1, 1))
    if omega.abs() < 1e-4:  # (anti)parallel within float error: the chord is the arc
        return lerp(a, b, t)
    t = t[:, None].to(a.dtype)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


INTERPOLATE = {"lerp": lerp, "slerp": slerp}


def walk(points: torch.Tensor, steps: int, mode: str) -> torch.Tensor:
    """(k, nz) -> ((k - 1) * steps, nz): one row of ``steps`` per segment, ends included."""
    t = torch.linspace(0, 1, steps)
    return torch.cat([INTERPOLATE[mode](a, b, t) for a, b in zip(points[:-1], points[1:])])


def sheet_latents(G, n: int, seed: int) -> torch.Tensor:
    """(n, nz): the latents of ``dfmgan sample --n n --seed seed``."""
    return G.sample_latent(n, torch.Generator().manual_seed(seed))


def pick(z: torch.Tensor, indices: list[int], what: str) -> torch.Tensor:
    """Rows of the sheet ``z`` (N, nz), with a clear error for an index off the sheet."""
    bad = [i for i in indices if not 0 <= i < len(z)]
    if bad or not indices:
        raise DfmganError(f"--{what}: indices must lie in 0..{len(z) - 1} on the sheet; got {indices}")
    return z[indices]


def arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Three exemplar sets (n_i, nz) -> mean(a) − mean(b) + mean(c), (nz,)."""
    return a.mean(0) - b.mean(0) + c.mean(0)


def neighbours(z: torch.Tensor, n: int = 8, radius: float = 0.25,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """(nz,) -> (1 + n, nz): z itself, then z plus uniform noise in ±radius (Fig. 7)."""
    noise = (torch.rand(n, len(z), generator=generator) * 2 - 1) * radius
    return torch.cat([z[None], z[None] + noise])


def turn(bases: torch.Tensor, direction: torch.Tensor, steps: int) -> torch.Tensor:
    """(M, nz), (nz,) -> (M * steps, nz): each base moved by t·direction, t in [0, 1]."""
    t = torch.linspace(0, 1, steps)
    return (bases[:, None] + t[None, :, None] * direction).flatten(0, 1)


class Renderer:
    """Latents -> uint8 images with BatchNorm frozen at reference statistics."""

    def __init__(self, G, label: int | None = None, seed: int = 0):
        if G.cfg.n_classes and label is None:
            label = 0
        if label is not None and not 0 <= label < max(G.cfg.n_classes, 1):
            raise DfmganError(f"--label {label} is not a class of this generator "
                              f"({G.cfg.n_classes} classes)")
        self.G, self.label = frozen_bn(G, seed=seed), label if G.cfg.n_classes else None

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        labels = torch.full((len(z),), self.label) if self.label is not None else None
        return generate(self.G, z, labels, mode="running")
