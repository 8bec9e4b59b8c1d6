"""Forgetting to draw (DCGAN §6.3.1, Fig. 6).

Mark a concept (the paper: windows) with boxes or masks on generated samples. At a chosen
generator layer, every spatial location is a C-dimensional feature vector: those inside
the marks are positives, random ones outside them (same images) are negatives. A
logistic regression separates them, and every feature map with a positive weight is
dropped, at every spatial location. The same latents are then drawn with and without
those maps."""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import DfmganError


def generator_layers(G) -> list[nn.Module]:
    """G's hidden blocks, low to high resolution: the ReLUs whose outputs are the maps."""
    return [m for m in G.net if isinstance(m, nn.ReLU)]


def pick_layer(G, layer: int) -> nn.Module:
    layers = generator_layers(G)
    if not -len(layers) <= layer < len(layers):
        raise DfmganError(f"--layer {layer}: this generator has {len(layers)} hidden layers "
                          f"(0..{len(layers) - 1}, or -1 for the last)")
    return layers[layer]


@contextlib.contextmanager
def captured(module: nn.Module):
    """Collect ``module``'s outputs, (B, C, h, w) each, while the block runs."""
    out: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda m, i, o: out.append(o.detach().cpu()))
    try:
        yield out
    finally:
        handle.remove()


@contextlib.contextmanager
def dropped(module: nn.Module, channels: torch.Tensor):
    """Zero the maps ``channels`` (C,) bool of ``module``'s output everywhere."""
    keep = (~channels).float()
    handle = module.register_forward_hook(
        lambda m, i, o: o * keep.to(o.device)[None, :, None, None])
    try:
        yield
    finally:
        handle.remove()


def boxes_to_masks(boxes: dict, size: int) -> tuple[list[int], torch.Tensor]:
    """{sheet index: [[x0, y0, x1, y1], ...]} in pixels (x1, y1 exclusive) ->
    (indices, masks (M, size, size) bool)."""
    if not isinstance(boxes, dict) or not boxes:
        raise ValueError('expected {"sheet index": [[x0, y0, x1, y1], ...], ...}')
    indices, masks = [], []
    for key, rects in sorted(boxes.items(), key=lambda kv: sheet_index(kv[0])):
        mask = torch.zeros(size, size, dtype=torch.bool)
        for rect in rects if isinstance(rects, list) else [None]:
            x0, y0, x1, y1 = box(rect, size)
            mask[y0:y1, x0:x1] = True
        indices.append(sheet_index(key))
        masks.append(mask)
    return indices, torch.stack(masks)


def sheet_index(key) -> int:
    if not (isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 9):
        raise ValueError(f"{str(key)[:20]!r} is not a sheet index (0, 1, 2, ...)")
    return int(key)


def box(rect, size: int) -> tuple[int, int, int, int]:
    """[x0, y0, x1, y1]: whole pixels with 0 <= x0 < x1 <= size (and y), else ValueError."""
    ok = isinstance(rect, list) and len(rect) == 4 and \
        all(isinstance(v, int) and not isinstance(v, bool) for v in rect)
    if not ok or not (0 <= rect[0] < rect[2] <= size and 0 <= rect[1] < rect[3] <= size):
        raise ValueError(f"{str(rect)[:60]} is not a box [x0, y0, x1, y1] of whole pixels "
                         f"with 0 <= x0 < x1 <= {size} and 0 <= y0 < y1 <= {size}")
    return tuple(rect)


def check_marks(indices: list, masks: torch.Tensor, sheet_n: int, size: int) -> None:
    """Marks fit the sheet and the generator: an index per mask, each in 0..sheet_n-1, masks
    (M, size, size) bool with something marked; else ValueError."""
    if len(indices) != len(masks) or not indices:
        raise ValueError(f"{len(indices)} sheet indices for {len(masks)} masks")
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < sheet_n for i in indices):
        raise ValueError(f"sheet indices must be whole numbers in 0..{sheet_n - 1} (--sheet-n {sheet_n})")
    if tuple(masks.shape[1:]) != (size, size):
        raise ValueError(f"masks are {tuple(masks.shape[1:])}; this generator draws {size}×{size}")
    if not masks.any():
        raise ValueError("nothing is marked")


@dataclass
class Concept:
    dropped: list[int]  # feature maps with a positive weight
    n_channels: int
    n_positive: int
    n_negative: int
    train_accuracy: float


def fit_concept(maps: torch.Tensor, masks: torch.Tensor, seed: int = 0) -> Concept:
    """maps (M, C, h, w), masks (M, H, W) bool -> the maps a logistic regression ties to
    the marked locations. A location is positive when marks cover over half its cell."""
    from sklearn.linear_model import LogisticRegression

    h, w = maps.shape[2:]
    cover = nn.functional.adaptive_avg_pool2d(masks.float()[:, None], (h, w))[:, 0]  # (M, h, w)
    vecs = maps.permute(0, 2, 3, 1)  # (M, h, w, C)
    pos, neg = vecs[cover > 0.5], vecs[cover == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise DfmganError(f"the marks cover {'no' if len(pos) == 0 else 'every'} location of "
                          f"this layer's {h}×{w} maps; mark larger regions or pick another --layer")
    rng = np.random.default_rng(seed)
    neg = neg[rng.choice(len(neg), size=min(len(neg), len(pos)), replace=False)]
    x = torch.cat([pos, neg]).numpy()
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    lr = LogisticRegression(max_iter=2000).fit(x, y)
    return Concept(np.flatnonzero(lr.coef_[0] > 0).tolist(), maps.shape[1], len(pos), len(neg),
                   float(lr.score(x, y)))


def with_and_without(render, layer: nn.Module, concept: Concept, z: torch.Tensor):
    """The same latents drawn twice: (N, C, H, W) uint8 as is, and with the maps dropped."""
    before = render(z)
    drop = torch.zeros(concept.n_channels, dtype=torch.bool)
    drop[concept.dropped] = True
    with dropped(layer, drop):
        after = render(z)
    return before, after


def maps_at(render, layer: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """(N, nz) -> the layer's maps (N, C, h, w) as the renderer draws them."""
    with captured(layer) as out:
        render(z)
    return torch.cat(out)


def ablate_figure(G, sheet: torch.Tensor, marks: tuple[list[int], torch.Tensor], layer: int,
                  z: torch.Tensor, out: Path, seed: int = 0, label: int | None = None,
                  progress: bool = True) -> Concept:
    """OUT.png: top row as drawn, bottom row the same z with the concept's maps dropped;
    OUT.json: which maps were dropped and how well the regression fit."""
    from ..imageio import grid_array, save_png, to_pil
    from ..files import write_record
    from .latent import Renderer, pick

    from tqdm import tqdm

    indices, masks = marks
    pick_layer(G, layer), pick(sheet, indices, "marks")  # checked before any work
    stages = tqdm(total=4, desc="ablate", unit="stage", disable=not progress, leave=False)
    stages.set_postfix_str("frozen BatchNorm")
    render = Renderer(G, label, seed)
    module = pick_layer(render.G, layer)
    stages.update()
    stages.set_postfix_str("the marked samples' maps")
    maps = maps_at(render, module, pick(sheet, indices, "marks"))
    stages.update()
    stages.set_postfix_str("logistic regression")
    concept = fit_concept(maps, masks, seed)
    stages.update()
    stages.set_postfix_str("drawing with and without")
    before, after = with_and_without(render, module, concept, z)
    stages.update()
    stages.close()
    save_png(to_pil(grid_array(torch.cat([before, after]), len(z)), 3), out)
    write_record(out.with_suffix(".json"), {"layer": layer, **asdict(concept)})
    return concept
