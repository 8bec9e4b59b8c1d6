"""Real-world image files -> uint8 arrays, for every loader that decodes files (folder,
lsun, openclipart, emoji).

What a folder of PNGs, JPEGs and WebPs from the wild holds, and what happens to it:

* transparency (RGBA, LA, a palette or grey/RGB image with a ``tRNS`` chunk) is
  composited onto ``background`` (white by default), so a black-outlined drawing on a
  transparent canvas keeps its outline instead of turning into a blob on black;
* 16-bit PNGs (Pillow's ``I;16`` and ``I`` modes) are scaled to 8 bits (÷ 257), not
  clipped at 255; CMYK JPEGs are converted to RGB (Pillow undoes Adobe's inversion);
* the EXIF orientation is applied (a phone photo stands up), and an animated GIF,
  APNG or WebP gives its first frame;
* ``fit``: ``crop`` brings the shorter side to ``size`` and cuts the centre out (the
  ImageNet 32 px preprocessing, for photographs); ``pad`` brings the longer side to
  ``size`` and centres the image on a square of ``background`` (letterboxing, for
  object images whose edges matter);
* an image of more than ``MAX_PIXELS`` pixels is refused by name before it is decoded
  (a decompression bomb: a small file that expands to gigabytes).

``decode_all`` decodes a list of files in one pass and names every file that failed in
one error, or with ``skip_bad`` leaves them out and says how many it left out.
"""
from __future__ import annotations

import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageColor, ImageOps, UnidentifiedImageError

from ..errors import DataError
from ..outputs import shown

FITS = ("crop", "pad")
MAX_PIXELS = 64 * 2 ** 20  # 67M pixels: larger than any sane photo, far below a bomb's
BAD_SHOWN = 20  # files named in the error before "and N more"


@dataclass(frozen=True)
class ImageOptions:
    """How image files become training images (``data.fit``, ``data.background``,
    ``--skip-bad``); ``fit`` "" means the dataset's own choice."""

    fit: str = ""
    background: str = "white"  # a CSS colour name or #rrggbb
    skip_bad: bool = False

    def __post_init__(self) -> None:
        if self.fit not in ("", *FITS):
            raise DataError(f"data.fit must be one of {', '.join(FITS)}, got {self.fit!r}")
        rgb(self.background)

    @property
    def rgb(self) -> tuple[int, int, int]:
        return rgb(self.background)


def rgb(colour: str) -> tuple[int, int, int]:
    """'white', '#808080', 'rgb(1,2,3)' -> (r, g, b); one line for anything else."""
    try:
        return ImageColor.getrgb(colour)[:3]
    except (ValueError, AttributeError, TypeError):
        raise DataError(f"data.background must be a colour name or #rrggbb, got {colour!r}") from None


class BadImage(Exception):
    """One file that cannot become an image; its message is the reason, without the path."""


def flatten(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any mode -> "RGB", with transparency composited onto ``background``."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey PNG: scale, don't clip
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 or img.mode != "I" else 255.0
        img = Image.fromarray(np.rint(np.clip(arr, 0, top) * (255.0 / top)).astype(np.uint8), "L")
    elif img.mode == "F":
        img = Image.fromarray(np.rint(np.clip(np.asarray(img), 0, 1) * 255).astype(np.uint8), "L")
    transparent = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if not transparent:
        return img.convert("RGB")  # L, P, CMYK, YCbCr, 1 ...
    rgba = img.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (*background, 255))
    return Image.alpha_composite(canvas, rgba).convert("RGB")


def fit_image(img: Image.Image, size: int, fit: str, background: tuple[int, int, int]) -> Image.Image:
    """An RGB image -> ``size`` x ``size``: a centre crop of the shorter side, or the
    longer side letterboxed onto ``background``."""
    w, h = img.size
    if fit == "crop":
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        img = img.resize((nw, nh), Image.BICUBIC, reducing_gap=None)
        left, top = (nw - size) // 2, (nh - size) // 2
        return img.crop((left, top, left + size, top + size))
    scale = size / max(w, h)
    nw, nh = min(size, max(1, round(w * scale))), min(size, max(1, round(h * scale)))
    canvas = Image.new("RGB", (size, size), background)
    canvas.paste(img.resize((nw, nh), Image.BICUBIC, reducing_gap=None),
                 ((size - nw) // 2, (size - nh) // 2))
    return canvas


def to_array(img: Image.Image, size: int, channels: int, opts: ImageOptions) -> np.ndarray:
    """An opened image -> (C, size, size) uint8: orientation, first frame, transparency,
    fit, then grey by ITU-R 601 luma when ``channels`` is 1."""
    if img.width * img.height > MAX_PIXELS:
        raise BadImage(f"{img.width} x {img.height} pixels, over the limit of {MAX_PIXELS:,} "
                       f"(a decompression bomb, or an image far larger than training needs)")
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # an animation: its first frame
    img = ImageOps.exif_transpose(img) or img
    out = fit_image(flatten(img, opts.rgb), size, opts.fit or "crop", opts.rgb)
    if channels == 1:
        return np.asarray(out.convert("L"), dtype=np.uint8)[None]
    return np.asarray(out, dtype=np.uint8).transpose(2, 0, 1).copy()


def open_and_convert(opener: Callable[[], Image.Image], size: int, channels: int,
                     opts: ImageOptions) -> np.ndarray:
    """``opener()`` (a file or bytes) -> (C, size, size) uint8, or ``BadImage`` saying why."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with opener() as img:
                return to_array(img, size, channels, opts)
        except BadImage:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise BadImage(f"over Pillow's decompression-bomb limit of "
                           f"{Image.MAX_IMAGE_PIXELS:,} pixels") from None
        except UnidentifiedImageError:
            raise BadImage("not an image Pillow can read") from None
        except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as e:
            raise BadImage(one_line(e)) from None


def header_problem(path: Path) -> tuple[str, str] | None:
    """("large" or "unreadable", why) for a file whose header declares more than
    ``MAX_PIXELS`` pixels or cannot be read, else None; no pixel is decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    return "large", f"{img.width} x {img.height} pixels, over the limit"
                return None
        except Image.DecompressionBombError:
            return "large", f"over Pillow's decompression-bomb limit of {Image.MAX_IMAGE_PIXELS:,} pixels"
        except (OSError, ValueError, SyntaxError) as e:
            return "unreadable", one_line(e)


def too_large(path: Path) -> bool:
    """Whether a file's header declares more than ``MAX_PIXELS`` pixels (an unreadable
    file is not: the decoding pass names it)."""
    problem = header_problem(path)
    return problem is not None and problem[0] == "large"


def decode_path(path: Path, size: int, channels: int, opts: ImageOptions) -> np.ndarray:
    try:
        return open_and_convert(lambda: Image.open(path), size, channels, opts)
    except BadImage as e:
        raise DataError(f"cannot decode {shown(path)}: {e}") from None


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:200]


def decode_all(files: list[Path], size: int, channels: int, opts: ImageOptions, what: str,
               pool: ThreadPoolExecutor, progress: Callable = lambda it, n: it
               ) -> tuple[np.ndarray, list[int]]:
    """Every file decoded in one pass: ((N_ok, C, size, size) uint8, indices kept). Files
    that fail are all named in one ``DataError``; with ``opts.skip_bad`` they are left out
    and counted on stderr."""
    def one(path: Path):
        try:
            return open_and_convert(lambda: Image.open(path), size, channels, opts)
        except BadImage as e:
            return f"{shown(path)} ({e})"

    results = list(progress(pool.map(one, files), len(files)))
    bad = [r for r in results if isinstance(r, str)]
    keep = [i for i, r in enumerate(results) if not isinstance(r, str)]
    if bad and not opts.skip_bad:
        raise DataError(bad_files_message(bad, what), flag="--skip-bad", fix="leaves them out")
    if bad:
        print(f"dfmgan: skipped {len(bad)} unreadable file{'s' * (len(bad) > 1)} of {what} "
              f"({len(keep):,} images kept): {'; '.join(bad[:3])}"
              + (" ..." if len(bad) > 3 else ""), file=sys.stderr)
    if not keep:
        raise DataError(f"{what}: none of its {len(files):,} files could be decoded")
    return np.stack([results[i] for i in keep]), keep


def bad_files_message(bad: list[str], what: str) -> str:
    more = f"; and {len(bad) - BAD_SHOWN} more" if len(bad) > BAD_SHOWN else ""
    return (f"cannot decode {len(bad)} file{'s' * (len(bad) > 1)} of {what}: "
            + "; ".join(bad[:BAD_SHOWN]) + more)
