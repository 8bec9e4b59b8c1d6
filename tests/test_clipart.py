"""The colour sets from Debian's packages (data/clipart.py) and the decoded cache
(data/cache.py). The loaders are tested on small trees in the packages' layout; the
real packages, where installed (.ci/run installs them), in the tests marked so."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dfmgan.data import load_dataset
from dfmgan.data import cache as cache_mod
from dfmgan.data import clipart
from dfmgan.digests import file_sha256
from dfmgan.errors import DataError

HAVE_FONT = Path(clipart.EMOJI_FONT).is_file() and Path(clipart.EMOJI_TEST).is_file()
HAVE_CLIPART = Path(clipart.CLIPART_ROOT).is_dir()
needs_font = pytest.mark.skipif(not HAVE_FONT, reason="fonts-noto-color-emoji and unicode-data "
                                "are not installed (.ci/run installs them)")
needs_clipart = pytest.mark.skipif(not HAVE_CLIPART, reason="openclipart-png is not installed "
                                   "(.ci/run installs it)")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DFMGAN_DATA", str(tmp_path / "cache"))


def clip_tree(root: Path) -> Path:
    """openclipart's layout: category folders, nested ones, a link into another category."""
    rng = np.random.default_rng(0)
    for i, rel in enumerate(["animals/cat.png", "animals/wild/lion.png", "food/apple.png",
                             "food/fruit/pear.png", "tools/saw.png", "tools/hammer.png"] +
                            [f"shapes/s{k}.png" for k in range(14)]):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        arr = rng.integers(0, 256, (10 + i, 20, 4), dtype=np.uint8)
        arr[..., 3] = 255
        Image.fromarray(arr, "RGBA").save(root / rel)
    (root / "food" / "lion-link.png").symlink_to(root / "animals" / "wild" / "lion.png")
    return root


def test_openclipart_counts_each_file_once_labelled_by_its_real_category(tmp_path):
    root = clip_tree(tmp_path / "png")
    d = load_dataset("openclipart", root, "all", 16, 3)
    assert len(d) == 20 and d.images.shape == (20, 3, 16, 16)  # the link is not a 21st image
    assert d.classes == ["animals", "food", "shapes", "tools"]
    lion = d.names.index("animals/wild/lion.png")
    assert d.classes[d.labels[lion]] == "animals"
    train, test = (load_dataset("openclipart", root, s, 16, 3) for s in ("train", "test"))
    assert sorted(train.names + test.names) == sorted(d.names) and not set(train.names) & set(test.names)
    assert test.names == [n for n in d.names if clipart.in_test(n)]


def test_the_split_is_a_fixed_function_of_the_name():
    names = [f"shapes/{i}.png" for i in range(2000)]
    share = sum(map(clipart.in_test, names)) / len(names)
    assert 0.07 < share < 0.13  # about a tenth
    # pinned: the same items are test items on every machine
    assert [n for n in names[:60] if clipart.in_test(n)] == \
        [n for n in names[:60] if int(__import__("hashlib").sha256(f"0:{n}".encode()).hexdigest(), 16) % 10 == 0]


def test_the_second_load_comes_from_the_cache(tmp_path, monkeypatch):
    root = clip_tree(tmp_path / "png")
    first = load_dataset("openclipart", root, "all", 16, 3)

    def no_build(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(clipart, "build_clipart", no_build)
    again = load_dataset("openclipart", root, "all", 16, 3)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert first.names == again.names


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_a_damaged_cache_is_rebuilt_never_trusted(tmp_path, damage, capsys):
    root = clip_tree(tmp_path / "png")
    first = load_dataset("openclipart", root, "all", 16, 3)
    [entry] = list((tmp_path / "cache" / "openclipart").glob("*.safetensors"))
    blob = bytearray(entry.read_bytes())
    if damage == "flip":
        blob[-10] ^= 0xFF  # one image byte
    elif damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "garbage":
        blob = bytearray(b"\x00" * 64)
    else:
        blob = bytearray()
    entry.write_bytes(bytes(blob))
    again = load_dataset("openclipart", root, "all", 16, 3)
    assert torch.equal(first.images, again.images)
    assert "stale or damaged; rebuilding" in capsys.readouterr().err
    assert cache_mod.read_entry(entry, cache_mod.key_of(_facts(root))) is not None  # rewritten


def _facts(root):
    files = clipart.clipart_files(root)
    from dfmgan.data.images import ImageOptions

    return {"files": [[str(p), file_sha256(p)] for p in files],
            **clipart.options_facts(16, 3, ImageOptions(fit="pad"))}


def test_a_changed_source_file_or_option_is_a_new_entry(tmp_path):
    root = clip_tree(tmp_path / "png")
    first = load_dataset("openclipart", root, "all", 16, 3)
    Image.new("RGBA", (20, 20), (1, 2, 3, 255)).save(root / "tools" / "saw.png")
    changed = load_dataset("openclipart", root, "all", 16, 3)
    i = changed.names.index("tools/saw.png")
    assert not torch.equal(first.images[i], changed.images[i])
    assert changed.images[i, :, 8, 8].tolist() == [1, 2, 3]
    load_dataset("openclipart", root, "all", 8, 3)  # another size: its own entry
    assert len(list((tmp_path / "cache" / "openclipart").glob("*.safetensors"))) == 3


def test_an_unwritable_cache_costs_time_not_the_run(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("DFMGAN_DATA", str(tmp_path / "file"))  # a file where the cache would be
    d = load_dataset("openclipart", clip_tree(tmp_path / "png"), "all", 16, 3)
    assert len(d) == 20 and "cannot cache openclipart" in capsys.readouterr().err


def test_a_missing_package_is_one_line_naming_it(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset("openclipart", tmp_path / "none", "train", 16, 3)
    assert "openclipart-png" in str(e.value) and "\n" not in str(e.value)


def small_emoji_list(path: Path) -> Path:
    path.write_text("# group: Smileys & Emotion\n"
                    "1F600 ; fully-qualified # 😀 E1.0 grinning face\n"
                    "263A FE0F ; fully-qualified # ☺️ E0.6 smiling face\n"
                    "263A ; unqualified # ☺ E0.6 smiling face\n"
                    "# group: Flags\n"
                    "1F1EB 1F1F7 ; fully-qualified # 🇫🇷 E0.6 flag: France\n"
                    "1F468 200D 1F469 200D 1F467 ; fully-qualified # 👨‍👩‍👧 E2.0 family\n"
                    "E000 ; fully-qualified # not an emoji of the font\n", encoding="utf-8")
    return path


@needs_font
def test_emoji_renders_are_byte_identical_across_two_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("DFMGAN_EMOJI_TEST", str(small_emoji_list(tmp_path / "emoji-test.txt")))
    a = load_dataset("emoji", None, "all", 32, 3)
    for entry in (tmp_path / "cache" / "emoji").glob("*"):
        entry.unlink()  # a second build from scratch
    b = load_dataset("emoji", None, "all", 32, 3)
    assert a.images.numpy().tobytes() == b.images.numpy().tobytes()
    # the font holds four of the five; the private-use E000 is no glyph of it
    assert a.names == ["1F600", "263A_FE0F", "1F1EB_1F1F7", "1F468_200D_1F469_200D_1F467"]
    assert a.classes == ["Smileys & Emotion", "Flags"] and a.labels.tolist() == [0, 0, 1, 1]
    corner = a.images[:, :, 0, 0]
    assert (corner == 255).all()  # transparent canvas onto white
    assert (a.images.float().std((1, 2, 3)) > 20).all()  # colour, not blank


@needs_font
def test_real_emoji_set():
    d = load_dataset("emoji", None, "all", 32, 3)
    assert len(d) > 3000 and len(d.classes) == 9 and d.images.shape[1:] == (3, 32, 32)


@needs_font
@needs_clipart
def test_real_clipart_set_joins_both_label_spaces():
    d = load_dataset("clipart", None, "train", 32, 3)
    oc = load_dataset("openclipart", None, "train", 32, 3)
    em = load_dataset("emoji", None, "train", 32, 3)
    assert len(d) == len(oc) + len(em)
    assert d.classes == [f"openclipart/{c}" for c in oc.classes] + [f"emoji/{c}" for c in em.classes]
    assert int(d.labels.max()) == len(d.classes) - 1
    assert torch.equal(d.images[len(oc):], em.images)
