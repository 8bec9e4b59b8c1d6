"""Writing uint8 image batches: a grid PNG, a folder of PNGs, or .npz (NHWC).

The grid is written here rather than with torchvision's ``save_image`` because
torchvision does not install beside the CPU torch pin this project tests on."""
from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

from .files import atomic_write
from .errors import ConfigError
from .marks import MARK


def grid_array(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, C, H, W) uint8 -> (rows*(H+pad)+pad, cols*(W+pad)+pad, C) with a grey border."""
    n, c, h, w = images.shape
    cols = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 128, np.uint8)
    for i, img in enumerate(images.numpy().transpose(0, 2, 3, 1)):
        r, q = divmod(i, cols)
        canvas[pad + r * (h + pad):pad + r * (h + pad) + h, pad + q * (w + pad):pad + q * (w + pad) + w] = img
    return canvas


def to_pil(arr: np.ndarray, scale: int = 1) -> Image.Image:
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def png_bytes(img: Image.Image) -> bytes:
    info = PngInfo()
    info.add_text("Software", MARK)  # dfmgan's mark: a later write may replace this file
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def save_png(img: Image.Image, path: Path) -> Path:
    atomic_write(Path(path), png_bytes(img))
    return Path(path)


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None, scale: int = 1,
              numbered: bool = False) -> Path:
    img = to_pil(grid_array(images, nrow), scale)
    if numbered:  # index labels so exemplars can be picked by number
        img = img.convert("RGB")
        draw = ImageDraw.Draw(img)
        cols = nrow or math.ceil(math.sqrt(len(images)))
        step_x = (images.shape[3] + 2) * scale
        step_y = (images.shape[2] + 2) * scale
        for i in range(len(images)):
            r, q = divmod(i, cols)
            draw.text((q * step_x + 3, r * step_y + 2), str(i), fill=(255, 64, 64))
    return save_png(img, path)


GRID_SCALE = 2  # training's grids and `dfmgan sample`'s, drawn at the same size


def save_images(images: torch.Tensor, out: Path, numbered: bool = False) -> Path:
    """The suffix of ``out`` picks the format: .png grid, .npz (uint8 NHWC), else a folder."""
    out = Path(out)
    if out.suffix.lower() == ".png":
        return save_grid(images, out, scale=GRID_SCALE, numbered=numbered)
    if out.suffix.lower() == ".npz":
        return save_npz(out, images=images.numpy().transpose(0, 2, 3, 1))
    if out.suffix:
        raise ConfigError(f"unsupported output {out}: use .png, .npz or a folder name")
    out.mkdir(parents=True, exist_ok=True)
    for name, arr in zip(folder_names(len(images)), images.numpy().transpose(0, 2, 3, 1)):
        atomic_write(out / name, png_bytes(to_pil(arr)))
    return out


def save_npz(path: Path, **arrays) -> Path:
    """Arrays into a compressed .npz at exactly ``path``, atomically (written to memory
    first: ``np.savez(path)`` would add .npz to a name without it)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    with zipfile.ZipFile(buf, "a") as z:
        z.comment = MARK.encode()  # dfmgan's mark, in the zip's own comment field
    atomic_write(Path(path), buf.getvalue())
    return Path(path)


def folder_names(n: int) -> list[str]:
    """The files ``save_images`` writes into a folder for ``n`` images."""
    return [f"{i:06d}.png" for i in range(n)]


def label_rows(img: Image.Image, labels: list[str], rows: int, margin: int = 44) -> Image.Image:
    """``img``, a grid of ``rows`` equal rows, with each row's label written in a left margin."""
    out = Image.new("RGB", (img.width + margin, img.height), (255, 255, 255))
    out.paste(img.convert("RGB"), (margin, 0))
    draw, h = ImageDraw.Draw(out), img.height / rows
    for r, text in enumerate(labels):
        draw.text((4, int(r * h + h / 2 - 5)), text, fill=(0, 0, 0))
    return out


def save_gif(frames: torch.Tensor, path: Path, scale: int = 4, ms: int = 80) -> Path:
    """(T, C, H, W) uint8 -> an animated GIF that loops, written atomically."""
    pics = [to_pil(f.numpy().transpose(1, 2, 0), scale).convert("RGB") for f in frames]
    buf = io.BytesIO()
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=ms, loop=0,
                 comment=MARK)
    atomic_write(Path(path), buf.getvalue())
    return Path(path)


def side_by_side(panels: list[Image.Image], gap: int = 8, down: bool = False) -> Image.Image:
    """Panels left to right on a white sheet, top-aligned (``down``: top to bottom,
    left-aligned)."""
    panels = [p.convert("RGB") for p in panels]
    along = [p.height if down else p.width for p in panels]
    across = max(p.width if down else p.height for p in panels)
    length = sum(along) + gap * (len(panels) - 1)
    out = Image.new("RGB", (across, length) if down else (length, across), (255, 255, 255))
    at = 0
    for p, n in zip(panels, along):
        out.paste(p, (0, at) if down else (at, 0))
        at += n + gap
    return out
