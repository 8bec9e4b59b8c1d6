"""``dfmgan project RUN IMAGES --out DIR``: real images into G's latent space (GAN
inversion, as stylegan's ``projector.py``; here by Adam on z alone, G and D fixed).

For each target x (C, H, W) in [-1, 1], find the z minimising

    L(z) = mean((G(z) − x)²) + w · mean((Φ(G(z)) − Φ(x))²) / mean(Φ(x)²)

pixels plus D's penultimate features Φ (divided by the target's feature energy, so that
w does not depend on D's scale), by Adam from ``restarts`` random starts per image, the
one with the lowest loss kept. Pixels alone blur towards the mean image; D's features
pull towards one that D sees the same way (cf. the perceptual term of image2stylegan,
Abdal et al. 2019, with D in the place of VGG, which needs a download).

G renders with BatchNorm frozen at reference statistics (``sampling.frozen_bn`` with
``seed``): the G that ``interpolate`` and ``arithmetic`` render with at the same --seed,
so a projected z shows the same image there. A uniform latent is clamped to its box
[-1, 1] after each step; a normal one is left free. Every image's z is independent of the
others (frozen statistics, Adam elementwise), so they are all optimised as one batch."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from tqdm import tqdm

from ..sampling import frozen_bn


@dataclass
class ProjectSettings:
    steps: int = 500
    lr: float = 0.05
    feature_weight: float = 1.0  # w above; 0 = pixels only
    restarts: int = 4  # random starts per image
    seed: int = 0  # the starts and G's frozen BatchNorm statistics


@dataclass
class Projection:
    z: torch.Tensor  # (N, nz), the best start's
    images: torch.Tensor  # (N, C, H, W) uint8, G(z)
    loss: torch.Tensor  # (N,), L at the end
    pixel_mse: torch.Tensor  # (N,), mean((G(z) − x)²) in [-1, 1] units
    start_mse: torch.Tensor  # (N,), the same for the random starts (the mean over them)


def losses(G, D, z: torch.Tensor, x: torch.Tensor, feats_x: torch.Tensor | None,
           w: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss (M,), pixel MSE (M,)) of latents z (M, nz) against targets x (M, C, H, W)."""
    y = G(z)
    pix = (y - x).pow(2).flatten(1).mean(1)
    if feats_x is None:
        return pix, pix
    fy = D.features(y).penultimate  # (M, n_h)
    feat = (fy - feats_x).pow(2).mean(1) / feats_x.pow(2).mean(1).clamp_min(1e-8)
    return pix + w * feat, pix


def project(G, D, targets: torch.Tensor, s: ProjectSettings = ProjectSettings(),
            progress: bool = True) -> Projection:
    """uint8 targets (N, C, H, W) -> their projection. D may be None (pixels only)."""
    from ..data import to_float, to_uint8

    G = frozen_bn(G, seed=s.seed)
    n, r = len(targets), s.restarts
    x = to_float(targets).repeat_interleave(r, 0)  # (N·R, C, H, W), each image R times
    w = s.feature_weight if D is not None else 0.0
    for p in [*G.parameters(), *(D.parameters() if D is not None else [])]:
        p.requires_grad_(False)
    with torch.no_grad():
        feats_x = D.features(x).penultimate if w else None
    z = G.sample_latent(n * r, torch.Generator().manual_seed(s.seed)).requires_grad_(True)
    with torch.no_grad():
        start = losses(G, D, z, x, feats_x, w)[1].view(n, r).mean(1)
    opt = torch.optim.Adam([z], lr=s.lr)
    for _ in tqdm(range(s.steps), desc="project", unit="step", disable=not progress, leave=False):
        opt.zero_grad(set_to_none=True)
        losses(G, D, z, x, feats_x, w)[0].sum().backward()
        opt.step()
        if G.cfg.latent == "uniform":
            with torch.no_grad():
                z.clamp_(-1, 1)
    with torch.no_grad():
        loss, pix = (t.view(n, r) for t in losses(G, D, z, x, feats_x, w))
        best = loss.argmin(1)  # (N,) the best start of each image
        keep = torch.arange(n) * r + best
        zb = z.detach()[keep]
        return Projection(zb, to_uint8(G(zb)), loss[torch.arange(n), best],
                          pix[torch.arange(n), best], start)


def summary(p: Projection, s: ProjectSettings, names: list[str]) -> dict:
    """project.json: the settings, the loss stated, and each image's numbers."""
    return {"settings": asdict(s),
            "loss": "mean((G(z) - x)^2) + feature_weight * mean((D_feat(G(z)) - D_feat(x))^2) "
                    "/ mean(D_feat(x)^2), pixels in [-1, 1], D's penultimate features",
            "pixel_mse": float(p.pixel_mse.mean()), "random_start_pixel_mse": float(p.start_mse.mean()),
            "images": [{"name": nm, "loss": float(a), "pixel_mse": float(b), "start_pixel_mse": float(c)}
                       for nm, a, b, c in zip(names, p.loss, p.pixel_mse, p.start_mse)]}
