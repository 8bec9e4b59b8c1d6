"""The image pipeline every file-reading loader shares (data/images.py): transparency onto
the background, crop and pad geometry by hand, EXIF orientation, 16-bit, CMYK, palettes,
animations, bombs, and every bad file named in one pass (or skipped and counted)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from dfmgan.data import ImageOptions, load_dataset
from dfmgan.data.folder import load_folder
from dfmgan.data.images import MAX_PIXELS, fit_image, open_and_convert
from dfmgan.errors import ConfigError, DataError


def save(img: Image.Image, path, fmt="PNG", **kw):
    img.save(path, format=fmt, **kw)
    return path


def decode(img: Image.Image, size=8, channels=3, **opts):
    return open_and_convert(lambda: img, size, channels, ImageOptions(**{"fit": "pad", **opts}))


def half_transparent(mode: str) -> Image.Image:
    """8 x 8: the left half opaque (red, or grey 76), the right half fully transparent."""
    if mode == "RGBA":
        img = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
        img.paste((255, 0, 0, 255), (0, 0, 4, 8))
    elif mode == "LA":
        img = Image.new("LA", (8, 8), (0, 0))
        img.paste((76, 255), (0, 0, 4, 8))
    elif mode.startswith("P"):  # a palette: index 0 transparent (one index, or an alpha table)
        img = Image.new("P", (8, 8), 0)
        img.putpalette([9, 9, 9, 255, 0, 0] + [0] * 762)
        img.paste(1, (0, 0, 4, 8))
        img.info["transparency"] = 0 if mode == "P" else bytes([0, 255])
    else:  # grey or RGB with one colour marked transparent (a tRNS chunk)
        base = "L" if mode == "L-trns" else "RGB"
        fill, clear = (76, 7) if base == "L" else ((255, 0, 0), (7, 7, 7))
        img = Image.new(base, (8, 8), clear)
        img.paste(fill, (0, 0, 4, 8))
        img.info["transparency"] = clear
    return img


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "P-alpha-table", "L-trns", "RGB-trns"])
@pytest.mark.parametrize("background", ["white", "#102030"])
def test_transparent_pixels_land_on_the_background(tmp_path, mode, background):
    path = save(half_transparent(mode), tmp_path / "a.png")
    with Image.open(path) as back:
        x = decode(back, 8, 3, background=background)
    bg = (255, 255, 255) if background == "white" else (0x10, 0x20, 0x30)
    assert x[:, :, 4:].reshape(3, -1).T.tolist() == [list(bg)] * 32  # the transparent half
    left = x[:, :, :4].reshape(3, -1).T
    assert (left == left[0]).all() and tuple(left[0]) != bg  # the opaque half kept its colour
    assert tuple(left[0]) in ((255, 0, 0), (76, 76, 76))


def test_partial_alpha_is_blended_by_hand():
    img = Image.new("RGBA", (4, 4), (200, 100, 0, 64))  # a quarter opaque over white
    x = decode(img, 4)
    a = 64 / 255
    want = [round(200 * a + 255 * (1 - a)), round(100 * a + 255 * (1 - a)), round(255 * (1 - a))]
    assert (np.abs(x[:, 0, 0].astype(int) - want) <= 1).all()


@settings(max_examples=40, deadline=None)
@given(w=st.integers(1, 300), h=st.integers(1, 300), size=st.sampled_from([8, 28, 32, 64]))
def test_pad_and_crop_geometry_match_a_hand_computation(w, h, size):
    black = Image.new("RGB", (w, h), (0, 0, 0))
    padded = np.asarray(fit_image(black, size, "pad", (255, 255, 255)))
    # pad: the longer side to size; the image centred, the margins background
    nw, nh = min(size, max(1, round(w * size / max(w, h)))), min(size, max(1, round(h * size / max(w, h))))
    left, top = (size - nw) // 2, (size - nh) // 2
    inside = np.zeros((size, size), bool)
    inside[top:top + nh, left:left + nw] = True
    assert padded.shape == (size, size, 3)
    assert (padded[inside] == 0).all() and (padded[~inside] == 255).all()
    # crop: the shorter side to size, the centre kept; a left/right ramp shows which columns
    ramp = Image.fromarray(np.tile(np.linspace(0, 255, w).round().astype(np.uint8), (h, 1)))
    cropped = np.asarray(fit_image(ramp.convert("RGB"), size, "crop", (255, 255, 255)))
    assert cropped.shape == (size, size, 3)
    scale = size / min(w, h)
    cw = max(size, round(w * scale))
    full = np.asarray(ramp.convert("RGB").resize((cw, max(size, round(h * scale))), Image.BICUBIC,
                                                 reducing_gap=None))
    x0 = (cw - size) // 2
    y0 = (full.shape[0] - size) // 2
    assert np.array_equal(cropped, full[y0:y0 + size, x0:x0 + size])


def test_the_wide_drawing_of_the_issue_is_letterboxed_not_cut():
    img = Image.new("RGB", (422, 209), (0, 0, 0))  # a 422 x 209 drawing
    x = decode(img, 32)
    # by hand: 32 / 422 -> 32 x round(15.85) = 16 rows, top (32 - 16) // 2 = 8
    rows = (x[0] == 0).all(1)
    assert rows.nonzero()[0].tolist() == list(range(8, 24))
    crop = open_and_convert(lambda: img, 32, 3, ImageOptions(fit="crop"))
    assert (crop == 0).all()  # the crop fills the square (and cuts the sides off)


@pytest.mark.parametrize("orientation,turns", [(3, 2), (6, 3), (8, 1)])
def test_exif_orientation_is_applied(tmp_path, orientation, turns):
    # a marker in the top-left corner of the stored pixels; the tag says how to turn them
    # (3: 180 degrees; 6: 90 clockwise = 3 quarter turns anticlockwise; 8: 90 anticlockwise)
    arr = np.zeros((8, 8, 3), np.uint8)
    arr[:2, :3] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(Image.fromarray(arr), tmp_path / "a.png", exif=exif)
    with Image.open(path) as back:
        got = open_and_convert(lambda: back, 8, 3, ImageOptions(fit="crop"))
    assert np.array_equal(got.transpose(1, 2, 0), np.rot90(arr, turns))


def test_exif_rotation_reaches_the_training_images(tmp_path):
    arr = np.zeros((8, 8, 3), np.uint8)
    arr[:4] = 255  # top half white as stored
    exif = Image.Exif()
    exif[0x0112] = 3  # rotate 180: the white half belongs at the bottom
    save(Image.fromarray(arr), tmp_path / "a.png", exif=exif)
    d = load_dataset("folder", tmp_path, size=8, channels=3)
    assert (d.images[0, :, :4] == 0).all() and (d.images[0, :, 4:] == 255).all()


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    arr = np.array([[0, 257 * 100, 65535, 257 * 200]], dtype=np.uint16).repeat(4, 0)
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    with Image.open(path) as img:
        assert img.mode.startswith("I")
        x = open_and_convert(lambda: img, 4, 1, ImageOptions(fit="crop"))
    # 4 x 4 to 4 x 4: no resampling, each value / 257
    assert x[0, 0].tolist() == [0, 100, 255, 200]


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    img = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    path = save(img, tmp_path / "c.jpg", "JPEG", quality=100)
    with Image.open(path) as back:
        assert back.mode == "CMYK"
        x = open_and_convert(lambda: back, 8, 3, ImageOptions(fit="crop"))
    r, g, b = (int(v) for v in x[:, 4, 4])
    assert r > 230 and g < 30 and b < 30


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_an_animation_gives_its_first_frame(tmp_path, fmt):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    path = tmp_path / f"anim.{fmt.lower()}"
    kw = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=50, **kw)
    with Image.open(path) as img:
        assert getattr(img, "n_frames", 1) == 3
        img.seek(2)  # even when a reader left it elsewhere
        x = open_and_convert(lambda: img, 8, 3, ImageOptions(fit="crop"))
    assert x[0].min() > 240 and x[2].max() < 15


def test_a_gigantic_image_is_one_line_naming_the_file(tmp_path, monkeypatch):
    import dfmgan.data.images as images

    monkeypatch.setattr(images, "MAX_PIXELS", 63)  # an 8 x 8 image is then too large
    save(Image.new("RGB", (8, 8)), tmp_path / "big.png")
    with pytest.raises(DataError) as e:
        load_dataset("folder", tmp_path, size=8, channels=3)
    assert "big.png" in str(e.value) and "8 x 8 pixels" in str(e.value) and "\n" not in str(e.value)


def bomb_png() -> bytes:
    """A PNG whose header claims 30000 x 30000 pixels: 3.6 GB if it were decoded."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("streamed", [False, True])
def test_a_decompression_bomb_header_is_refused_before_decoding(tmp_path, streamed):
    # Pillow's bomb check, not a 3.6 GB decode; in memory or streamed (header pass) alike
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    save(Image.new("RGB", (8, 8)), tmp_path / "ok.png")
    with pytest.raises(DataError) as e:
        load_folder(tmp_path, "train", 8, 3, memory_bytes=0 if streamed else 10 ** 9)
    msg = str(e.value)
    assert "bomb.png" in msg and ("bomb" in msg or "pixels" in msg) and "\n" not in msg
    assert "ok.png" not in msg and 30000 * 30000 > MAX_PIXELS
    if streamed:  # skip-bad leaves it out of a stream too
        s = load_folder(tmp_path, "train", 8, 3, image=ImageOptions(skip_bad=True), memory_bytes=0)
        assert len(s) == 1


def write_folder(root, good: int, bad: list[str]):
    """``good`` readable PNGs in two classes and a broken file per name in ``bad``."""
    for i in range(good):
        (root / ("a" if i % 2 else "b")).mkdir(parents=True, exist_ok=True)
        save(Image.new("RGB", (6, 6), (i * 20, 0, 0)), root / ("a" if i % 2 else "b") / f"{i}.png")
    for name in bad:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"\x89PNG\r\n\x1a\n broken")


@settings(max_examples=12, deadline=None)
@given(good=st.integers(1, 7), n_bad=st.integers(1, 6), skip=st.booleans())
def test_every_bad_file_is_named_in_one_line_or_skipped_and_counted(tmp_path_factory, good, n_bad,
                                                                     skip):
    root = tmp_path_factory.mktemp("folder")
    bad = [f"{'a' if i % 2 else 'b'}/bad {i}.png" for i in range(n_bad)]
    write_folder(root, good, bad)
    opts = ImageOptions(skip_bad=skip)
    if not skip:
        with pytest.raises(DataError) as e:
            load_folder(root, "train", 8, 3, image=opts)
        msg = str(e.value)
        assert "\n" not in msg and f"cannot decode {n_bad} file" in msg and e.value.flag == "--skip-bad"
        assert all(name.split("/")[1] in msg for name in bad)  # every one, in one pass
        return
    d = load_folder(root, "train", 8, 3, image=opts)
    assert len(d) == good and len(d.names) == good and all("bad" not in n for n in d.names)
    # labels come from the files kept: two classes when both folders keep a file
    kept = {n.split("/")[0] for n in d.names}
    assert (d.labels is None) == (len(kept) < 2)
    assert d.labels is None or (len(d.labels) == good and d.classes == sorted(kept))


def test_skip_bad_says_how_many_it_skipped(tmp_path, capsys):
    write_folder(tmp_path, 3, ["a/x.png", "b/y.jpg"])
    d = load_folder(tmp_path, "train", 8, 3, image=ImageOptions(skip_bad=True))
    err = capsys.readouterr().err
    assert len(d) == 3 and "skipped 2 unreadable files" in err and "3 images kept" in err


def test_streamed_folders_check_every_header_first(tmp_path):
    write_folder(tmp_path, 4, ["a/x.png", "b/y.png"])
    with pytest.raises(DataError) as e:
        load_folder(tmp_path, "train", 8, 3, memory_bytes=0)
    assert "decode 2 files" in str(e.value) and "x.png" in str(e.value) and "y.png" in str(e.value)
    s = load_folder(tmp_path, "train", 8, 3, image=ImageOptions(skip_bad=True), memory_bytes=0)
    assert len(s) == 4 and s.get(torch.tensor([0, 3]))[0].shape == (2, 3, 8, 8)


def test_a_newline_in_a_file_name_stays_on_one_line(tmp_path):
    (tmp_path / "bad\nname.png").write_bytes(b"garbage")
    with pytest.raises(DataError) as e:
        load_dataset("folder", tmp_path, size=8, channels=3)
    assert "\n" not in str(e.value) and "bad\\nname.png" in str(e.value)


@pytest.mark.parametrize("fit,background", [("stretch", "white"), ("pad", "not-a-colour")])
def test_bad_fit_or_background_is_refused_before_any_work(fit, background):
    from dfmgan.resolver import build_config

    with pytest.raises(ConfigError) as e:
        build_config("digits", overrides={"data": {"fit": fit, "background": background}})
    assert ("fit" in str(e.value)) or ("background" in str(e.value))


def test_train_flags_reach_the_data(tmp_path):
    from conftest import TINY_FLAGS, run_cli

    img = Image.new("RGBA", (12, 6), (0, 0, 0, 0))
    img.paste((0, 0, 255, 255), (0, 0, 12, 6))
    for i in range(16):
        save(img, tmp_path / f"{i}.png")
    (tmp_path / "broken.png").write_bytes(b"nope")
    out = tmp_path.parent / (tmp_path.name + "-run")
    r = run_cli("train", "--data", "folder", "--data-root", str(tmp_path), "--size", "28",
                "--steps", "1", "--out", str(out), "--fit", "pad", "--background", "#ff0000",
                *TINY_FLAGS)
    assert r.returncode == 2 and "broken.png" in r.stderr and not out.exists()
    assert r.stderr.rstrip().endswith("; --skip-bad leaves them out")  # train's own flag
    r = run_cli("train", "--data", "folder", "--data-root", str(tmp_path), "--size", "28",
                "--steps", "1", "--out", str(out), "--fit", "pad", "--background", "#ff0000",
                "--skip-bad", *TINY_FLAGS)
    assert r.returncode == 0, r.stderr
    assert "skipped 1 unreadable file" in r.stderr
    import json

    cfg = json.loads((out / "config.json").read_text())
    assert cfg["data"]["fit"] == "pad" and cfg["data"]["background"] == "#ff0000"
    assert cfg["data"]["skip_bad"] is True
    # eval of that run reads its recorded root, fit, background and skip_bad: no flags
    r = run_cli("eval", str(out), "--metrics", "fid", "--feature-net", "clipart", "--n", "8",
                "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "skipped 1 unreadable file" in r.stderr
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert str(tmp_path) in row["provenance"]["reference"]
    # and its own --skip-bad, --size: flags that win over the record
    r = run_cli("eval", str(out), "--metrics", "fid", "--feature-net", "clipart", "--n", "8",
                "--size", "32", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "32x32" in json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["provenance"]["reference"]
