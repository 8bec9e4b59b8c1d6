"""CIFAR-10 from the official python batches (``cifar-10-python.tar.gz`` or its folder).

Those batches are pickles. They are read with an unpickler that can build nothing
but numpy arrays and plain containers, so a tampered file cannot run code."""
from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import ArraySource, describe
from .registry import register_dataset

CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck"]
SOURCE = "the python version of CIFAR-10 from Alex Krizhevsky's page, cifar-10-python.tar.gz"
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def _numpy_attr(module: str, name: str):
    try:
        from numpy._core import multiarray, numeric  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric
    table = {"_reconstruct": multiarray._reconstruct, "_frombuffer": numeric._frombuffer,
             "ndarray": np.ndarray, "dtype": np.dtype}
    return table[name]


class SafeUnpickler(pickle.Unpickler):
    """Allows only numpy array reconstruction and ``_codecs.encode`` (bytes in protocol 2)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "_codecs":
            import codecs
            return codecs.encode
        return _numpy_attr(module, name)


def safe_unpickle(raw: bytes, where: str) -> dict:
    try:
        obj = SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # any malformed pickle
        raise DataError(f"{where} is not a valid CIFAR batch: {e}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where} is not a valid CIFAR batch (not a dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _read_batches(root: Path, names: list[str]) -> list[tuple[str, bytes]]:
    if root.is_file() and root.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(root) as tar:
                members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
                missing = [n for n in names if n not in members]
                if missing:
                    raise DataError(f"cifar10: {root} lacks {', '.join(missing)} ({SOURCE})")
                return [(f"{root}:{n}", tar.extractfile(members[n]).read()) for n in names]
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"cannot read {root}: {e} (truncated or corrupt?)") from None
    from .files import find
    return [(str(p), p.read_bytes()) for p in find(root, names, "cifar10", SOURCE)]


def class_labels(labels, where: str) -> np.ndarray:
    """CIFAR-10's labels as int64, each a whole number in 0..9; one line for anything else
    (strings, floats, negative or huge values)."""
    arr = np.asarray(labels, dtype=object) if isinstance(labels, list) else labels
    ok = arr.dtype.kind in "iu" or (arr.dtype == object and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr))
    if not ok:
        raise DataError(f"{where}: its labels are not whole numbers")
    values = [int(v) for v in arr] if arr.dtype == object else arr  # no int64 overflow
    if len(values) and not (0 <= min(values) and max(values) < len(CLASSES)):
        raise DataError(f"{where}: its labels run from {min(values)} to {max(values)}, not 0..9")
    return np.asarray(values, dtype=np.int64)


@register_dataset("cifar10", splits=("train", "test"), preset="cifar10", shape=(3, 32, 32),
                  sizes={"train": 50_000, "test": 10_000},
                  expects=f"cifar-10-python.tar.gz or cifar-10-batches-py/ ({SOURCE})")
def load_cifar10(root: Path, split: str) -> ArraySource:
    xs, ys = [], []
    for where, raw in _read_batches(root, BATCHES[split]):
        batch = safe_unpickle(raw, where)
        data, labels = batch.get("data"), batch.get("labels")
        if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072 \
                or data.dtype != np.uint8 or not isinstance(labels, (list, np.ndarray)) \
                or len(labels) != len(data):
            raise DataError(f"{where}: expected data (N, 3072) uint8 and N labels")
        ys.append(class_labels(labels, where))
        xs.append(data.reshape(-1, 3, 32, 32))
    x = torch.from_numpy(np.concatenate(xs))
    return ArraySource(x, torch.from_numpy(np.concatenate(ys)),
                       describe(f"cifar10[{split}] from {root}", len(x), x.shape[1:]), CLASSES)
