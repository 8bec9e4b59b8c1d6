"""Writers for tiny datasets in each official on-disk format, used by the tests."""
from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def write_mnist(root: Path, n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, n, dtype=np.uint8)
    root.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", y)
    return x, y


def cifar_batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"training batch", b"labels": rng.integers(0, 10, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)]}


def write_cifar(root: Path, n: int = 8, tar: bool = False) -> dict[str, dict]:
    """cifar-10-batches-py/{data_batch_1..5,test_batch}, pickled as the official files
    (protocol 2, bytes keys), optionally inside cifar-10-python.tar.gz."""
    batches = {f"data_batch_{i}": cifar_batch(n, i) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(n, 99)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name, b in batches.items():
        (folder / name).write_bytes(pickle.dumps(b, protocol=2))
    if tar:
        with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as t:
            t.add(folder, arcname="cifar-10-batches-py")
    return batches


def write_stl10(root: Path, n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """stl10_binary/*.bin: each image 3x96x96, column-major; labels 1..10."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)
    y = rng.integers(1, 11, n, dtype=np.uint8)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    col_major = x.transpose(0, 1, 3, 2).tobytes()
    for name in ("unlabeled_X.bin", "train_X.bin", "test_X.bin"):
        (folder / name).write_bytes(col_major)
    for name in ("train_y.bin", "test_y.bin"):
        (folder / name).write_bytes(y.tobytes())
    return x, y


def write_svhn(root: Path, n: int = 7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """train_32x32.mat etc.: X (32, 32, 3, N) uint8, y (N, 1) with 10 for the digit 0."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = rng.integers(1, 11, (n, 1)).astype(np.uint8)
    y[0] = 10
    root.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test", "extra"):
        savemat(root / f"{split}_32x32.mat", {"X": x, "y": y})
    return x, y


def image_bytes(arr: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    kw = {"lossless": True} if fmt == "WEBP" else ({"quality": 95} if fmt == "JPEG" else {})
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def write_lsun(root: Path, n: int = 5, seed: int = 0) -> np.ndarray:
    """An LMDB as the LSUN export has it: hex keys -> WebP bytes."""
    import lmdb

    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n, 64, 80, 3), dtype=np.uint8)
    env = lmdb.open(str(root), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for i, a in enumerate(imgs):
            txn.put(f"{i:040x}".encode(), image_bytes(a, "WEBP"))
    env.close()
    return imgs
