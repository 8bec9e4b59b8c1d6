"""dfmgan's mark (``marks``): every writer of a single file puts it where its format keeps
such facts; a file without it, of any format or none, is never recognised as dfmgan's."""
import io
import json

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from dfmgan.marks import KEY, MARK, ours, signed

images = st.tuples(st.integers(1, 4), st.sampled_from([1, 3]), st.integers(1, 9), st.integers(0, 2**16))


def batch(shape) -> torch.Tensor:
    n, c, side, seed = shape
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, side, side), generator=g, dtype=torch.uint8)


@settings(max_examples=30, deadline=None)
@given(images, st.sampled_from(["grid", "npz", "gif", "png"]))
def test_dfmgans_image_writers_mark_their_files(tmp_path_factory, shape, kind):
    from dfmgan.imageio import png_bytes, save_gif, save_images, to_pil

    d = tmp_path_factory.mktemp("img")
    x = batch(shape)
    if kind == "grid":
        path = save_images(x, d / "g.png")
    elif kind == "npz":
        path = save_images(x, d / "g.npz")
        assert np.array_equal(np.load(path)["images"], x.numpy().transpose(0, 2, 3, 1))
    elif kind == "gif":
        path = save_gif(x, d / "g.gif")
        assert Image.open(path).n_frames == len(x) or len(x) == 1
    else:
        path = d / "one.png"
        path.write_bytes(png_bytes(to_pil(x[0].numpy().transpose(1, 2, 0))))
        assert np.array_equal(np.asarray(Image.open(path)).reshape(x[0].shape[1], x[0].shape[2], -1),
                              x[0].numpy().transpose(1, 2, 0))
    assert ours(path)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=5))
def test_records_and_metric_rows_are_marked_and_keep_their_fields(tmp_path_factory, record):
    from dfmgan.evaluation.api import append_jsonl
    from dfmgan.files import write_record

    d = tmp_path_factory.mktemp("rec")
    write_record(d / "r.json", record)
    back = json.loads((d / "r.json").read_text())
    assert back[KEY] == MARK and {k: v for k, v in back.items() if k != KEY} == \
        {k: v for k, v in record.items() if k != KEY}
    append_jsonl(d / "m.jsonl", record)
    append_jsonl(d / "m.jsonl", record)
    assert ours(d / "r.json") and ours(d / "m.jsonl")
    assert len((d / "m.jsonl").read_text().splitlines()) == 2


def test_statistics_files_are_marked(tmp_path):
    from dfmgan.evaluation.sources import save_statistics
    from dfmgan.evaluation.feature_net import Features

    save_statistics(tmp_path / "s.safetensors", Features(torch.randn(6, 3), None), {"net": "x"})
    assert ours(tmp_path / "s.safetensors")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_no_file_of_random_bytes_is_dfmgans(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("junk") / "x"
    path.write_bytes(blob)
    assert not ours(path)


HEADS = [b"\x89PNG\r\n\x1a\n", b"GIF89a", b"PK\x03\x04", b"{", b"<!doctype html>", b"\x10" + b"\0" * 7 + b"{"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(HEADS), st.binary(max_size=2048))
def test_a_format_announced_then_garbage_is_not_dfmgans_and_never_raises(tmp_path_factory, head, tail):
    path = tmp_path_factory.mktemp("junk") / "x"
    path.write_bytes(head + tail)
    assert not ours(path)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["png", "gif", "npz", "json", "jsonl", "html"]), st.text(max_size=12))
def test_the_same_formats_without_the_mark_or_with_anothers_are_not_dfmgans(tmp_path_factory, kind, other):
    """Written by another program: no mark, or a mark whose value is not dfmgan's."""
    from PIL.PngImagePlugin import PngInfo

    path = tmp_path_factory.mktemp("other") / f"x.{kind}"
    other = other if other != MARK else MARK + "!"
    img = Image.new("RGB", (3, 2))
    if kind == "png":
        info = PngInfo()
        info.add_text("Software", other)
        img.save(path, pnginfo=info)
    elif kind == "gif":
        img.save(path, comment=other.encode() or b"x")
    elif kind == "npz":
        np.savez(path, images=np.zeros((1, 2, 2, 1), np.uint8))
    elif kind == "json":
        path.write_text(json.dumps({KEY: other}))
    elif kind == "jsonl":
        path.write_text(json.dumps(signed({})) + "\n" + json.dumps({KEY: other}) + "\n")
    else:
        path.write_text(f"<!doctype html><meta name=generator content={other}>")
    assert not ours(path)


def test_the_marks_are_where_the_docs_say():
    """A PNG's Software text, a GIF's comment and a zip's comment, read by their own readers."""
    from dfmgan.imageio import png_bytes, save_npz
    import tempfile
    import zipfile
    from pathlib import Path

    assert Image.open(io.BytesIO(png_bytes(Image.new("L", (2, 2))))).text["Software"] == MARK
    with tempfile.TemporaryDirectory() as d:
        path = save_npz(Path(d) / "a.npz", images=np.zeros((1, 1, 1, 1), np.uint8))
        assert zipfile.ZipFile(path).comment == MARK.encode()
