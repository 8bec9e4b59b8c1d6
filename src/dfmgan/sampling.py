"""Drawing images from a generator, with BatchNorm in either mode.

"batch" (the default) normalises with the statistics of the batch being drawn, as
G is trained and as the reference DCGAN code samples. G never runs in running-stat
mode during training, and its running averages (momentum 0.1) trail weights that
change every step, so "running" samples drift from what D was shown; we keep it as
an option for single-image use, where a batch has no statistics of its own.
Sampling never changes G's buffers in either mode.

The latent tools (walks, arithmetic, ablation) need an image to depend on its own z
only, not on what else is in the batch: ``frozen_bn`` gives a copy of G whose BatchNorm
uses the exact statistics of a large reference batch of random latents, drawn with the
current weights (cf. virtual BatchNorm, Salimans et al. 2016), in "running" mode.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Iterator

import torch
from torch import nn

from .data.transforms import to_uint8
from .errors import ConfigError
from .models.netconfig import BN_MODES


# latents a user gives (``--latents``, the explorer's JSON) are draws of N(0, 1) or U(-1, 1),
# or walks and sums of them: beyond this they are no latent, and 1e300 is inf in float32
LATENT_MAX = 1e4


def latent_problem(z) -> str | None:
    """What is wrong with user latents z (a float tensor or array), or None: finite and
    within ±LATENT_MAX, checked before G sees them."""
    z = torch.as_tensor(z, dtype=torch.float64)
    if not torch.isfinite(z).all():
        return "z holds NaN or inf"
    if z.numel() and z.abs().max() > LATENT_MAX:
        return f"z reaches {z.abs().max().item():.3g}; latents lie within ±{LATENT_MAX:g}"
    return None


@contextlib.contextmanager
def bn_mode(net: nn.Module, mode: str) -> Iterator[None]:
    """Run ``net`` with BatchNorm in ``mode``, leaving its running stats untouched."""
    if mode not in BN_MODES:
        raise ConfigError(f"unknown BatchNorm mode {mode!r}; use {' or '.join(BN_MODES)}")
    was_training = net.training
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    tracked = [m.track_running_stats for m in bns]
    if mode == "batch":
        net.train()
        for m in bns:  # train mode + no tracking: batch stats, buffers not updated
            m.track_running_stats = False
    else:
        net.eval()
    try:
        yield
    finally:
        for m, t in zip(bns, tracked):
            m.track_running_stats = t
        net.train(was_training)


@torch.no_grad()
def generate(G, z: torch.Tensor, labels: torch.Tensor | None = None, mode: str = "batch",
             batch_size: int = 128, pad_from: torch.Generator | None = None) -> torch.Tensor:
    """z (N, nz) -> uint8 images (N, C, H, W). In batch mode a short last batch is padded
    with extra latents (dropped after), so every image sees a full batch's statistics."""
    device = next(G.parameters()).device
    out = []
    with bn_mode(G, mode):
        for i in range(0, len(z), batch_size):
            zb = z[i:i + batch_size]
            lb = labels[i:i + batch_size] if labels is not None else None
            n = len(zb)
            if mode == "batch" and n < batch_size:
                extra = batch_size - n
                zb = torch.cat([zb, G.sample_latent(extra, pad_from)])
                if lb is not None:
                    lb = torch.cat([lb, torch.randint(0, G.cfg.n_classes, (extra,), generator=pad_from)])
            x = G(zb.to(device), lb.to(device) if lb is not None else None)
            out.append(to_uint8(x[:n]))
    return torch.cat(out)


def sample(G, n: int, seed: int = 0, mode: str = "batch", labels=None,
           batch_size: int = 128, truncation: float = 1.0) -> torch.Tensor:
    """n uint8 images from latents drawn with ``seed`` (``truncate``d by ψ = ``truncation``);
    a conditional G cycles through its classes unless ``labels`` (N,) are given."""
    g = torch.Generator().manual_seed(seed)
    z = truncate(G.sample_latent(n, g), truncation)
    G, mode = truncation_bn(G, mode, truncation, seed)
    return generate(G, z, cycled(G, n, labels), mode, batch_size, pad_from=g)


def truncation_bn(G, mode: str, truncation: float, seed: int = 0):
    """(G, mode) to draw truncated latents with. In "batch" mode ψ·z would be undone: G's
    first layer is linear without a bias and the BatchNorm after it divides out any scale
    of its batch, so every ψ gave the same images (measured: FID 9.76 at ψ 1 and 0.3).
    Truncation needs fixed statistics: those of untruncated latents (``frozen_bn``)."""
    if truncation == 1.0 or mode != "batch":
        return G, mode
    return frozen_bn(G, seed=seed), "running"


TRUNCATION = (0.0, 2.0)  # ψ's range, 0 excluded: 1 is no truncation, above 1 exaggerates


def truncate(z: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick (Brock et al. 2019, BigGAN §3.1; Karras et al. 2019's ψ):
    z' = c + ψ (z − c), shrinking each latent towards the centre c of its distribution,
    fidelity bought with diversity. c = 0 for both of dfmgan's latents, U[-1, 1] and
    N(0, 1), so z' = ψ z; ψ = 1 leaves z exactly as drawn. (N, nz) -> (N, nz)."""
    check_truncation(psi)
    return z if psi == 1.0 else z * psi


def check_truncation(psi: float) -> None:
    lo, hi = TRUNCATION
    if not lo < psi <= hi:  # False for NaN too
        raise ConfigError(f"--truncation must be in ({lo:g}, {hi:g}], got {psi}")


def sample_seeds(G, seeds: list[int], mode: str = "batch", labels=None, pad_seed: int = 0,
                 batch_size: int = 128, truncation: float = 1.0) -> torch.Tensor:
    """One uint8 image per seed (``seeded_latents``, ``truncate``d); labels as ``sample``
    gives them; a short batch is padded with latents drawn with ``pad_seed``."""
    z = truncate(seeded_latents(G, seeds), truncation)
    G, mode = truncation_bn(G, mode, truncation, pad_seed)
    return generate(G, z, cycled(G, len(seeds), labels), mode,
                    batch_size, pad_from=torch.Generator().manual_seed(pad_seed))


def cycled(G, n: int, labels):
    """``labels``, or for a conditional G without them its classes in turn, (n,)."""
    if labels is None and G.cfg.n_classes:
        return torch.arange(n) % G.cfg.n_classes
    return labels


def seeded_latents(G, seeds: list[int]) -> torch.Tensor:
    """(len(seeds), nz): image i's latent drawn with its own seed alone, as stylegan's
    ``--seeds``. For the uniform latent it is also the first latent ``sample(G, n, seed=s)``
    draws; torch draws normals in blocks, so for ``latent normal`` it is not."""
    return torch.cat([G.sample_latent(1, torch.Generator().manual_seed(s)) for s in seeds])


def parse_seeds(text: str, most: int = 100_000) -> list[int]:
    """"0-3,7,10-11" -> [0, 1, 2, 3, 7, 10, 11]: ranges include both ends, order kept."""
    import re

    from .errors import DfmganError

    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"(\d{1,19})(?:-(\d{1,19}))?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise DfmganError(f"--seeds: {part!r} is neither a seed nor a range A-B (A <= B); "
                              "e.g. --seeds 0-35,40")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi >= 2 ** 63 or len(out) + hi - lo + 1 > most:
            raise DfmganError(f"--seeds {text!r}: at most {most:,} seeds, each below 2**63")
        out.extend(range(lo, hi + 1))
    return out


@torch.no_grad()
def frozen_bn(G, n: int = 1024, seed: int = 0, batch_size: int = 128):
    """A copy of G in eval mode whose BatchNorm statistics are the average batch statistics
    of ``n`` random latents (the statistics G sees in training), so each image depends
    on its own latent only. Use it with ``mode="running"``."""
    G2 = copy.deepcopy(G).train()
    bns = [m for m in G2.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the reference batches
    g = torch.Generator().manual_seed(seed)
    device = next(G2.parameters()).device
    for i in range(0, n, batch_size):
        z = G2.sample_latent(min(batch_size, n - i), g).to(device)
        labels = torch.randint(0, G2.cfg.n_classes, (len(z),), generator=g).to(device) \
            if G2.cfg.n_classes else None
        G2(z, labels)
    return G2.eval()
