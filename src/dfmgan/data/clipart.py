"""Diverse colour data on every Debian machine, with no download at run time.

* ``openclipart``: Debian's ``openclipart-png`` (public domain), the drawings under
  ``/usr/share/openclipart/png/<category>/...``. 8,121 paths, of which 1,221 are symbolic
  links to files elsewhere in the tree: each of the 6,900 distinct files counts once,
  labelled by the top-level category folder it really lives in (22 classes: animals,
  computer, food, people, shapes, signs_and_symbols, ...). 15 of them are posters of
  170 to 620 megapixels (up to 2.5 GB decoded, over Pillow's decompression-bomb limit):
  the set leaves out every file over ``images.MAX_PIXELS`` by definition, 6,885 remain.
* ``emoji``: every fully-qualified emoji of Unicode's ``emoji-test.txt`` (Debian's
  ``unicode-data``) that Google's colour font (``fonts-noto-color-emoji``, SIL OFL)
  draws as one glyph, ZWJ sequences, flags, keycaps and skin tones included (3,655 with
  Debian 12's font and Unicode 15.0). Each is drawn by Pillow at the font's one bitmap
  size, 109 pt, onto a transparent 136 x 128 canvas, which is deterministic: the same
  font gives the same bytes. Labels: the Unicode group emoji-test.txt gives it (9
  classes: Smileys & Emotion, People & Body, Animals & Nature, ..., Flags; the
  "Component" group holds no fully-qualified emoji).
* ``clipart``: both together. Its classes are the 22 clip-art categories, prefixed
  ``openclipart/``, then the 9 emoji groups, prefixed ``emoji/`` (31 classes).

Each image goes through ``images.py``: transparency onto ``data.background`` (white),
then ``data.fit``, ``pad`` by default (letterboxed: these are objects on empty canvases,
and a centre crop cut a third off a 422 x 209 drawing). The split is fixed: an item is
in ``test`` when the SHA-256 of (seed 0, its name) is 0 mod 10, about a tenth, the same
on every machine and unchanged when items are added. Decoded sets are cached
(``cache.py``), keyed by the SHA-256 of every source file and the decoding options."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, features

from ..errors import DataError
from ..models.netconfig import DEFAULT_CHANNELS, DEFAULT_SIZE
from .base import ArraySource, StreamingSource, describe
from ..digests import file_sha256 as file_digest
from .cache import cached
from .folder import bar
from .images import BadImage, ImageOptions, decode_all, open_and_convert, too_large
from .registry import register_dataset

CLIPART_ROOT = "/usr/share/openclipart/png"
EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
EMOJI_TEST = "/usr/share/unicode/emoji/emoji-test.txt"
EMOJI_PT, EMOJI_CANVAS = 109, (136, 128)  # the font's one bitmap strike, and its glyph box
SPLIT_SEED, TEST_SHARE = 0, 10  # test: sha256(seed, name) % 10 == 0
SPLITS = ("train", "test", "all")


def in_test(name: str) -> bool:
    return int(hashlib.sha256(f"{SPLIT_SEED}:{name}".encode()).hexdigest(), 16) % TEST_SHARE == 0


def split_of(images: torch.Tensor, labels: torch.Tensor, names: list[str], split: str):
    """The rows of ``split`` (train, test or all), in the set's own order."""
    keep = [i for i, n in enumerate(names) if split == "all" or in_test(n) == (split == "test")]
    idx = torch.tensor(keep, dtype=torch.long)
    return images[idx], labels[idx], [names[i] for i in keep]


def options_facts(size: int, channels: int, opts: ImageOptions) -> dict:
    return {"size": size, "channels": channels, "fit": opts.fit, "background": list(opts.rgb),
            "skip_bad": opts.skip_bad, "pillow": Image.__version__}


# --- openclipart -----------------------------------------------------------------------
def clipart_files(root: Path) -> list[Path]:
    """Every distinct PNG file under ``root`` once (links resolved), in a fixed order."""
    seen: dict[Path, None] = {}
    for p in sorted(root.rglob("*.png")):
        real = p.resolve()
        if real.is_file() and real.is_relative_to(root.resolve()) and real not in seen \
                and not too_large(real):
            seen.setdefault(real, None)
    if not seen:
        raise DataError(f"openclipart: no .png files under {root} (Debian's openclipart-png "
                        "puts them in /usr/share/openclipart/png)")
    return sorted(seen)


def build_clipart(root: Path, files: list[Path], size: int, channels: int, opts: ImageOptions):
    base = root.resolve()
    names = [str(p.relative_to(base)) for p in files]
    classes = sorted({n.split("/")[0] for n in names if "/" in n})
    pool = StreamingSource(size, channels)._pool
    arrays, keep = decode_all(files, size, channels, opts, f"openclipart {root}", pool,
                              bar("decoding openclipart"))
    names = [names[i] for i in keep]
    labels = np.array([classes.index(n.split("/")[0]) if "/" in n else 0 for n in names])
    return arrays, labels, {"names": names, "classes": classes}


@register_dataset("openclipart", splits=SPLITS, takes="size,channels", decodes=True, fit="pad",
                  default_root=CLIPART_ROOT, preset="clipart-32", feature_net="clipart",
                  expects="the PNG tree of Debian's openclipart-png (apt-get install "
                          "openclipart-png; /usr/share/openclipart/png)")
def load_openclipart(root: Path, split: str, size: int | None, channels: int | None,
                     image: ImageOptions = ImageOptions(fit="pad")) -> ArraySource:
    size, channels = size or DEFAULT_SIZE, channels or DEFAULT_CHANNELS
    files = clipart_files(root)
    facts = {"files": [[str(p), file_digest(p)] for p in files],
             **options_facts(size, channels, image)}
    images, labels, info = cached("openclipart", facts,
                                  lambda: build_clipart(root, files, size, channels, image))
    x, y, names = split_of(images, labels, info["names"], split)
    return ArraySource(x, y, describe(f"openclipart[{split}] from {root}", len(x), x.shape[1:]),
                       info["classes"], names=names)


# --- emoji -----------------------------------------------------------------------------
def emoji_list(test_file: Path) -> list[tuple[str, str, str]]:
    """(sequence, name, group) of every fully-qualified emoji in ``emoji-test.txt``."""
    try:
        lines = test_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"emoji: cannot read {test_file} ({e}); it comes with Debian's "
                        "unicode-data (apt-get install unicode-data)") from None
    out, group = [], ""
    for line in lines:
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif "; fully-qualified" in line and not line.startswith("#"):
            try:
                seq = "".join(chr(int(c, 16)) for c in line.split(";")[0].split())
            except ValueError:
                continue
            out.append((seq, line.split(";")[0].strip(), group))
    if not out:
        raise DataError(f"emoji: {test_file} lists no fully-qualified emoji")
    return out


def render(font: ImageFont.FreeTypeFont, seq: str) -> Image.Image:
    """One emoji on a transparent 136 x 128 RGBA canvas, the font's colour bitmaps."""
    img = Image.new("RGBA", EMOJI_CANVAS, (0, 0, 0, 0))
    ImageDraw.Draw(img).text((0, 0), seq, font=font, embedded_color=True)
    return img


def open_font(path: Path) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(path), EMOJI_PT)
    except OSError as e:
        raise DataError(f"emoji: cannot open the font {path} ({e}); it comes with Debian's "
                        "fonts-noto-color-emoji") from None


VARIATION_SELECTORS = {0xFE0E, 0xFE0F}  # chosen by the font's format-14 table, not its cmap


def holds(cmap: set[int], font: ImageFont.FreeTypeFont, seq: str, one: float) -> bool:
    """Whether the font draws ``seq`` as one glyph of its own: every code point mapped (a
    missing one would draw as .notdef) and the whole sequence one glyph's advance wide (a
    ZWJ sequence the font lacks falls apart into several glyphs)."""
    return all(ord(c) in cmap for c in seq if ord(c) not in VARIATION_SELECTORS) and \
        font.getlength(seq) == one


def build_emoji(font_path: Path, test_file: Path, size: int, channels: int, opts: ImageOptions):
    from fontTools.ttLib import TTFont

    font = open_font(font_path)
    cmap = set(TTFont(str(font_path), lazy=True).getBestCmap())
    one = font.getlength("\U0001F600")  # a single glyph's advance
    arrays, names, groups = [], [], []
    listed = emoji_list(test_file)
    for seq, codes, group in bar("drawing emoji")(listed, len(listed)):
        if not holds(cmap, font, seq, one):
            continue
        img = render(font, seq)
        try:
            arrays.append(open_and_convert(lambda: img, size, channels, opts))
        except BadImage as e:  # cannot happen for a drawn canvas; named if it does
            raise DataError(f"emoji {codes}: {e}") from None
        names.append(codes.replace(" ", "_"))
        groups.append(group)
    classes = list(dict.fromkeys(g for _, _, g in listed))
    labels = np.array([classes.index(g) for g in groups])
    return np.stack(arrays), labels, {"names": names, "classes": classes}


def emoji_test_file() -> Path:
    return Path(os.environ.get("DFMGAN_EMOJI_TEST", EMOJI_TEST))


@register_dataset("emoji", splits=SPLITS, takes="size,channels", decodes=True, fit="pad",
                  default_root=EMOJI_FONT, preset="clipart-32", feature_net="clipart",
                  expects="Google's colour emoji font (apt-get install fonts-noto-color-emoji "
                          "unicode-data; the list of emoji: $DFMGAN_EMOJI_TEST, default "
                          f"{EMOJI_TEST})")
def load_emoji(root: Path, split: str, size: int | None, channels: int | None,
               image: ImageOptions = ImageOptions(fit="pad")) -> ArraySource:
    size, channels = size or DEFAULT_SIZE, channels or DEFAULT_CHANNELS
    font = root if root.is_file() else root / Path(EMOJI_FONT).name
    test = emoji_test_file()
    if not font.is_file():
        raise DataError(f"emoji: no font at {font} (apt-get install fonts-noto-color-emoji)")
    facts = {"font": file_digest(font), "list": file_digest(test) if test.is_file() else "",
             "raqm": features.check("raqm"), **options_facts(size, channels, image)}
    images, labels, info = cached("emoji", facts,
                                  lambda: build_emoji(font, test, size, channels, image))
    x, y, names = split_of(images, labels, info["names"], split)
    return ArraySource(x, y, describe(f"emoji[{split}] ({font.name})", len(x), x.shape[1:]),
                       info["classes"], names=names)


# --- both ------------------------------------------------------------------------------
# sizes: from Debian 12's openclipart-png 1:0.18+dfsg-19 and fonts-noto-color-emoji 2.042
@register_dataset("clipart", splits=SPLITS, takes="size,channels", decodes=True, fit="pad",
                  needs_root=False, preset="clipart-32", feature_net="clipart",
                  sizes={"train": 9_461, "test": 1_079, "all": 10_540})
def load_clipart(root, split: str, size: int | None, channels: int | None,
                 image: ImageOptions = ImageOptions(fit="pad")) -> ArraySource:
    from . import load_dataset  # both parts through the one entry point (their roots, env)

    parts = [load_dataset(n, None, split, size, channels, image) for n in ("openclipart", "emoji")]
    classes = [f"{n}/{c}" for n, p in zip(("openclipart", "emoji"), parts) for c in p.classes]
    offset = len(parts[0].classes)
    x = torch.cat([p.images for p in parts])
    y = torch.cat([parts[0].labels, parts[1].labels + offset])
    names = [f"openclipart/{n}" for n in parts[0].names] + [f"emoji/{n}" for n in parts[1].names]
    return ArraySource(x, y, describe(f"clipart[{split}] (openclipart + emoji)", len(x),
                                      x.shape[1:]), classes, names=names)
