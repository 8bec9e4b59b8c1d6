import os
import pickle

import numpy as np
import pytest
import torch
from formats import (image_bytes, write_cifar, write_idx, write_lsun, write_mnist, write_stl10,
                     write_svhn)

from dfmgan.data import BatchSampler, load_dataset, to_float, to_uint8
from dfmgan.data.cifar import safe_unpickle
from dfmgan.errors import DataError

FASHION = "/usr/share/datasets/fashion-mnist"


def test_digits_embedded_default():
    d = load_dataset("digits", size=32)
    assert d.images.shape == (1437, 1, 32, 32) and d.images.dtype == torch.uint8
    assert d.labels.shape == (1437,) and set(d.labels.tolist()) == set(range(10))
    assert load_dataset("digits", split="test").images.shape == (360, 1, 8, 8)
    raw = load_dataset("digits", split="all").images
    assert raw.max() == 255 and raw.min() == 0  # 16 grey levels -> 255


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_loader(tmp_path, name):
    x, y = write_mnist(tmp_path)
    d = load_dataset(name, tmp_path)
    assert torch.equal(d.images[:, 0], torch.from_numpy(x))
    assert torch.equal(d.labels, torch.from_numpy(y.astype(np.int64)))
    assert "40 images" in d.description


def test_idx_uncompressed_and_subfolder(tmp_path):
    sub = tmp_path / "raw"
    sub.mkdir()
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(sub / "train-images-idx3-ubyte", x, compress=False)
    write_idx(sub / "train-labels-idx1-ubyte", np.array([3, 4]), compress=False)
    d = load_dataset("mnist", tmp_path)
    assert torch.equal(d.images[:, 0], torch.from_numpy(x)) and d.labels.tolist() == [3, 4]


def test_real_fashion_mnist():
    if not os.path.isdir(FASHION):
        pytest.skip("Debian's dataset-fashion-mnist is not installed (.ci/run installs it)")
    d = load_dataset("fashion-mnist", split="test", size=32)
    assert d.images.shape == (10000, 1, 32, 32) and d.labels.bincount().tolist() == [1000] * 10


@pytest.mark.parametrize("tar", [False, True])
def test_cifar10(tmp_path, tar):
    batches = write_cifar(tmp_path, tar=tar)
    root = tmp_path / "cifar-10-python.tar.gz" if tar else tmp_path
    d = load_dataset("cifar10", root)
    assert d.images.shape == (40, 3, 32, 32)
    first = batches["data_batch_1"]
    assert torch.equal(d.images[0].flatten(), torch.from_numpy(first[b"data"][0]))  # CHW order
    assert d.labels[:8].tolist() == first[b"labels"]
    t = load_dataset("cifar10", root, split="test")
    assert t.labels.tolist() == batches["test_batch"][b"labels"]


def test_cifar_pickle_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    with pytest.raises(DataError, match="refusing"):
        safe_unpickle(pickle.dumps({b"data": Evil()}, protocol=2), "evil")
    assert not (tmp_path / "pwned").exists()


def test_stl10_column_major_and_downsample(tmp_path):
    x, y = write_stl10(tmp_path)
    d = load_dataset("stl10", tmp_path, split="train", size=96)
    assert torch.equal(d.images, torch.from_numpy(x)) and d.labels.tolist() == (y - 1).tolist()
    small = load_dataset("stl10", tmp_path)  # default: unlabeled at 48 px
    assert small.images.shape == (6, 3, 48, 48) and small.labels is None
    # antialiased bilinear, as PIL's BILINEAR resize does it, up to rounding
    from PIL import Image
    ref = np.array(Image.fromarray(x[0, 0]).resize((48, 48), Image.BILINEAR))
    assert (small.images[0, 0].int() - torch.from_numpy(ref).int()).abs().max() <= 1


def test_svhn(tmp_path):
    x, y = write_svhn(tmp_path)
    d = load_dataset("svhn", tmp_path)
    assert torch.equal(d.images, torch.from_numpy(x.transpose(3, 2, 0, 1).copy()))
    assert d.labels[0] == 0 and d.labels.tolist() == (y[:, 0] % 10).tolist()
    assert len(load_dataset("svhn", tmp_path, split="train+extra")) == 14


def test_folder_with_labels_crop_and_formats(tmp_path):
    rng = np.random.default_rng(0)
    for cls, fmt, ext in [("cats", "PNG", "png"), ("dogs", "JPEG", "jpg"), ("owls", "WEBP", "webp")]:
        (tmp_path / cls).mkdir()
        for i in range(2):
            (tmp_path / cls / f"{i}.{ext}").write_bytes(
                image_bytes(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8), fmt))
    d = load_dataset("folder", tmp_path, size=32, channels=3)
    assert d.images.shape == (6, 3, 32, 32)
    assert d.labels.tolist() == [0, 0, 1, 1, 2, 2] and d.classes == ["cats", "dogs", "owls"]


def test_folder_centre_crop_keeps_the_middle(tmp_path):
    a = np.zeros((32, 96, 3), np.uint8)
    a[:, 32:64] = 255  # white centre third, black sides
    (tmp_path / "a.png").write_bytes(image_bytes(a, "PNG"))
    d = load_dataset("folder", tmp_path, size=32, channels=3)
    assert d.images.min() == 255 and d.labels is None


def test_folder_streams_when_large(tmp_path):
    from dfmgan.data.folder import load_folder

    for i in range(5):
        (tmp_path / f"{i}.png").write_bytes(image_bytes(np.full((8, 8), i * 50, np.uint8), "PNG"))
    s = load_folder(tmp_path, "train", 32, 1, memory_bytes=0)
    assert len(s) == 5 and "streamed" in s.description
    x, _ = s.get(torch.tensor([4, 0]))
    assert x.shape == (2, 1, 32, 32) and x[0].float().mean() == 200 and x[1].max() == 0


def test_lsun_lmdb(tmp_path):
    pytest.importorskip("lmdb")
    imgs = write_lsun(tmp_path / "bedroom_train_lmdb")
    s = load_dataset("lsun", tmp_path / "bedroom_train_lmdb", size=64)
    assert len(s) == 5
    x, _ = s.get(torch.tensor([2]))
    crop = imgs[2][:, 8:72].transpose(2, 0, 1)  # 64x80 -> centre 64x64
    assert x.shape == (1, 3, 64, 64) and (x[0].int() - torch.from_numpy(crop).int()).abs().max() <= 2


@pytest.mark.parametrize("case", ["unknown", "no-root", "missing-files", "truncated-idx",
                                  "bad-magic", "corrupt-mat", "empty-folder", "bad-image",
                                  "stl-size", "cifar-garbage", "bad-split"])
def test_bad_data_is_one_clear_error(tmp_path, case):
    name, root, split = "mnist", tmp_path, None
    if case == "unknown":
        name = "imagenette"
    elif case == "no-root":
        root = tmp_path / "nowhere"
    elif case == "truncated-idx":
        write_mnist(tmp_path)
        p = tmp_path / "train-images-idx3-ubyte.gz"
        p.write_bytes(p.read_bytes()[:200])
    elif case == "bad-magic":
        write_mnist(tmp_path)
        write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 2, 2)))
        p = tmp_path / "train-images-idx3-ubyte.gz"
        import gzip
        p.write_bytes(gzip.compress(b"\x00\x00\x0d\x03" + bytes(20)))
    elif case == "corrupt-mat":
        name = "svhn"
        (tmp_path / "train_32x32.mat").write_bytes(b"MATLAB garbage" * 10)
    elif case in ("empty-folder", "bad-image"):
        name = "folder"
        if case == "bad-image":
            (tmp_path / "x.png").write_bytes(b"\x89PNG not really")
    elif case == "stl-size":
        name, split = "stl10", "unlabeled"
        (tmp_path / "unlabeled_X.bin").write_bytes(bytes(1000))
    elif case == "cifar-garbage":
        name = "cifar10"
        write_cifar(tmp_path)
        (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x02garbage")
    elif case == "bad-split":
        split = "validation"
        write_mnist(tmp_path)
    with pytest.raises(DataError) as e:
        load_dataset(name, root, split=split, size=32)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400
    if case == "missing-files":
        assert "train-images-idx3-ubyte" in msg and "LeCun" in msg


def test_batch_sampler_is_a_function_of_seed_and_position():
    a = BatchSampler(100, 32, seed=3)
    first = [a.next() for _ in range(7)]  # crosses two epoch boundaries (3 batches each)
    b = BatchSampler(100, 32, seed=3)
    for _ in range(4):
        b.next()
    c = BatchSampler(100, 32, seed=3)
    c.load_state_dict(b.state_dict())
    assert all(torch.equal(x, c.next()) for x in first[4:])
    assert len(torch.cat(first[:3]).unique()) == 96  # an epoch never repeats an image


def test_batch_sampler_shards_the_global_batch():
    whole = BatchSampler(64, 16, seed=0).next()
    parts = [BatchSampler(64, 16, seed=0, rank=r, world=2).next() for r in range(2)]
    assert torch.equal(torch.sort(torch.cat(parts))[0], torch.sort(whole)[0])


def test_float_round_trip():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    f = to_float(x)
    assert f.min() == -1 and f.max() == 1 and torch.equal(to_uint8(f), x)


def test_each_dataset_declares_its_shape_and_split_sizes():
    """Every dataset whose files are on this machine holds what it declares: images of
    its stored shape, as many per split as its facts say. The others are listed here."""
    from dfmgan.data import DATASETS, load_dataset
    from dfmgan.errors import DfmganError

    checked, absent = [], []
    for name, info in sorted(DATASETS.items()):
        if info.sizes is None and info.shape is None:
            continue  # image files: any size, any count
        for split in info.splits:
            try:
                src = load_dataset(name, None, split)
            except DfmganError:
                absent.append(name)
                break
            if info.size_of(split) is not None:
                assert len(src) == info.size_of(split), (name, split)
            if info.shape is not None and not info.decodes:
                assert tuple(src.get(torch.arange(2))[0].shape[1:]) == info.shape, (name, split)
            checked.append((name, split))
    assert {"digits", "stacked-digits"} <= {n for n, _ in checked}, (checked, absent)
