"""What D's features respond to: guided backpropagation (Springenberg et al. 2015), as in
DCGAN Fig. 5, beside the same view of a randomly initialised D.

Guided backprop passes a gradient back through a rectifier only where both the input
was positive and the gradient is positive. D's rectifiers are LeakyReLU(0.2); the
forward pass is kept as it is, only the backward rule changes."""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from ..data.transforms import to_float
from ..errors import DfmganError


class _Guided(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        return nn.functional.leaky_relu(x, slope)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * (x > 0), None


class GuidedLeakyReLU(nn.Module):
    def __init__(self, slope: float):
        super().__init__()
        self.slope = slope

    def forward(self, x):
        return _Guided.apply(x, self.slope)


def guided(D: nn.Module) -> nn.Module:
    """A copy of D in eval mode whose LeakyReLUs backpropagate by the guided rule."""
    D = copy.deepcopy(D).eval()
    for parent in list(D.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.LeakyReLU):
                setattr(parent, name, GuidedLeakyReLU(child.negative_slope))
    return D.requires_grad_(False)


def block_output(D, x: torch.Tensor, block: int) -> torch.Tensor:
    blocks = D.features(x).blocks
    if not -len(blocks) <= block < len(blocks):
        raise DfmganError(f"--layer {block}: D has {len(blocks)} conv layers (0..{len(blocks) - 1})")
    return blocks[block]  # (N, C, h, w)


@torch.no_grad()
def top_units(D, images: torch.Tensor, block: int, k: int) -> list[tuple[int, int]]:
    """The ``k`` channels of ``block`` with the largest mean peak response over ``images``,
    each with the image (index) that excites it most: [(channel, image), ...]."""
    acts = block_output(D, to_float(images), block).amax((2, 3))  # (N, C): peak per map
    channels = acts.mean(0).topk(min(k, acts.shape[1])).indices
    return [(int(c), int(acts[:, c].argmax())) for c in channels]


def guided_view(Dg, image: torch.Tensor, block: int, channel: int) -> torch.Tensor:
    """(C, H, W) uint8 -> d(peak of map ``channel``)/d(image), as uint8 (C, H, W):
    mid-grey is zero, the largest |gradient| reaches black or white."""
    x = to_float(image[None]).requires_grad_(True)
    block_output(Dg, x, block)[0, channel].max().backward()
    g = x.grad[0]
    g = g / (g.abs().max() + 1e-12)
    return ((g.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def visualize_figure(D, D_random, images: torch.Tensor, block: int, k: int, out: Path) -> Path:
    """Rows: the images that excite the trained D's top units most; their guided views;
    then the same two rows for the random D."""
    from ..imageio import grid_array, save_png, to_pil

    rows = []
    for net in (D, D_random):
        pairs = top_units(net, images, block, k)
        g = guided(net)
        rows.append(torch.stack([images[i] for _, i in pairs]))
        rows.append(torch.stack([guided_view(g, images[i], block, c) for c, i in pairs]))
    grid = to_pil(grid_array(torch.cat(rows), len(rows[0])), 3)
    return save_png(labelled_rows(grid, ROW_LABELS), out)


# what each row of the figure shows, written in a margin on its left
ROW_LABELS = ("trained D: top images", "trained D: guided", "random D: top images",
              "random D: guided")


def labelled_rows(grid, labels):
    """``grid`` (a PIL image of len(labels) equal rows) with each row's label in a white
    margin on its left."""
    from PIL import Image, ImageDraw

    margin = 8 + 7 * max(len(t) for t in labels)  # the default font: about 6 px a character
    out = Image.new(grid.mode, (grid.width + margin, grid.height), "white" if grid.mode == "RGB" else 255)
    out.paste(grid, (margin, 0))
    draw, row = ImageDraw.Draw(out), grid.height / len(labels)
    for i, text in enumerate(labels):
        draw.text((4, row * i + row / 2 - 5), text, fill="black" if grid.mode == "RGB" else 0)
    return out


def run_visualize(source, data, root, layer: int, units: int, n: int, seed: int,
                  out: Path) -> Path:
    """``dfmgan visualize``: the run's D against a random D of the same architecture,
    on ``n`` images drawn with ``seed`` from the run's data."""
    from ..data import draw, load_dataset
    from ..data.recorded import recorded_data
    from ..models import Discriminator
    from ..snapshot import load_discriminator

    D, meta = load_discriminator(source)
    if D.cfg.n_classes:
        raise DfmganError("visualize reads an unconditional D")
    data, root, image = recorded_data(source, data, root, meta=meta)  # the run's own files
    source_data = load_dataset(data, root, None, D.cfg.size, D.cfg.channels, image)
    images = draw(source_data, n, torch.Generator().manual_seed(seed)).cpu()
    torch.manual_seed(seed)
    return visualize_figure(D, Discriminator(D.cfg).eval(), images, layer, units, out)
