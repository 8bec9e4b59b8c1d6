"""The figures of ``dfmgan interpolate`` and ``dfmgan arithmetic`` (DCGAN Figs. 4, 7, 8)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..imageio import grid_array, label_rows, save_gif, save_png, side_by_side, to_pil
from .latent import Renderer, arithmetic, neighbours, pick, turn, walk

SCALE = 3


def grid_image(images: torch.Tensor, cols: int):
    return to_pil(grid_array(images, cols), SCALE)


def interpolate_figure(G, points: int | torch.Tensor, steps: int, modes: list[str], seed: int,
                       out: Path, label: int | None = None) -> list[Path]:
    """Walks through ``points`` random latents (or the given ones, (k, nz)): OUT.png has
    one row per segment and mode (lerp and slerp rows alternate, so they compare at a
    glance); OUT-<mode>.gif each."""
    render = Renderer(G, label, seed)
    z = points if torch.is_tensor(points) else \
        G.sample_latent(points, torch.Generator().manual_seed(seed))  # (points, nz)
    points = len(z)
    frames = {m: render(walk(z, steps, m)) for m in modes}  # each ((points-1)*steps, C, H, W)
    rows = [frames[m][i * steps:(i + 1) * steps] for i in range(points - 1) for m in modes]
    names = [m for _ in range(points - 1) for m in modes]  # each row says how it walks
    written = [save_png(label_rows(grid_image(torch.cat(rows), steps), names, len(names)), out)]
    keep = [i for i in range(len(frames[modes[0]])) if i < steps or i % steps]  # no repeated joints
    for m in modes:
        written.append(save_gif(frames[m][keep], out.with_name(f"{out.stem}-{m}.gif"), SCALE))
    return written


def arithmetic_figure(G, sheet: torch.Tensor, a: list[int], b: list[int], c: list[int],
                      out: Path, seed: int = 0, label: int | None = None) -> Path:
    """Left: each concept's exemplars and the image of their mean z (rows labelled A, B, C).
    Right: A − B + C and 8 neighbours at ±0.25 uniform noise (3 × 3, the result centre,
    its row labelled)."""
    render = Renderer(G, label, seed)
    sets = [pick(sheet, idx, name) for idx, name in ((a, "a"), (b, "b"), (c, "c"))]
    width = max(len(s) for s in sets) + 1
    rows = []
    for s in sets:  # exemplars, blanks to align, then the mean's image
        imgs = render(torch.cat([s, s.mean(0, keepdim=True)]))
        pad = torch.full((width - len(imgs), *imgs.shape[1:]), 255, dtype=torch.uint8)
        rows.append(torch.cat([imgs[:-1], pad, imgs[-1:]]))
    result = neighbours(arithmetic(*sets), generator=torch.Generator().manual_seed(seed))
    result = result[[1, 2, 3, 4, 0, 5, 6, 7, 8]]  # the exact result in the centre
    # rows labelled A, B, C (exemplars, then the image of their mean at the right end);
    # the result's middle row labelled A-B+C (the default font has no minus sign)
    left = label_rows(grid_image(torch.cat(rows), width), ["A", "B", "C"], 3, margin=20)
    right = label_rows(grid_image(render(result), 3), ["", "A-B+C", ""], 3, margin=52)
    return save_png(side_by_side([left, right], 24), out)


def turn_figure(G, sheet: torch.Tensor, a: list[int], b: list[int], bases: list[int],
                steps: int, out: Path, seed: int = 0, label: int | None = None) -> Path:
    """Each row: one base latent moved along mean(B) − mean(A) in ``steps`` equal parts."""
    render = Renderer(G, label, seed)
    direction = pick(sheet, b, "b").mean(0) - pick(sheet, a, "a").mean(0)
    return save_png(grid_image(render(turn(pick(sheet, bases, "base"), direction, steps)), steps), out)

