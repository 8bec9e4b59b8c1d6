"""What ``dfmgan eval`` can score and compare against, besides a generator.

Image sets: an ``.npz`` holding uint8 images (``images``, NHWC, what ``dfmgan sample
--out X.npz`` writes; or its only array), an ``.npy`` of uint8 NHWC or NCHW images, or a
folder of image files (decoded as the folder loader decodes them, at the first file's
size). References: a dataset name, one of those image sets, or a statistics file.

A statistics file (``dfmgan reference``) holds a reference's features, once computed:
``pool`` (N, F) and ``logits`` (N, K) float64, their mean ``mu`` (F,) and covariance
``sigma`` (F, F), and its provenance (the feature net's name and SHA-256, the data, its
split, image size and channels, n, seed). It is safetensors, so loading runs no code.
``eval`` takes it in place of recomputing the features: the FID's statistics, KID's and
precision/recall's features, all bit for bit the same. A file made with another feature
network, or at another image size than the images it is asked to judge, is refused."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DfmganError
from ..layout import RunLayout
from .feature_net import Features

STATS_KIND = "dfmgan-reference-statistics"
IMAGE_FILES = (".npz", ".npy")


@dataclass
class Reference:
    """The real side of every metric: images, their labels, features precomputed or not,
    and where they come from."""

    features: Features | None  # from a statistics file
    images: torch.Tensor | None  # (N, C, H, W) uint8, to be featurised; None from statistics
    labels: torch.Tensor | None  # (N,) int64 where the data has labels
    provenance: dict


def is_image_set(path: Path) -> bool:
    """A file or folder of images rather than a run folder or a snapshot."""
    p = Path(path)
    if p.suffix.lower() in IMAGE_FILES:
        return True
    return p.is_dir() and not RunLayout(p).holds_a_run()


def as_nchw(arr: np.ndarray, path: Path) -> torch.Tensor:
    """uint8 (N, H, W, C) or (N, C, H, W) square images with C in 1, 3 (or (N, H, W) grey)
    -> NCHW; a shape that reads both ways, (N, 3, 3, 3), is taken as NHWC."""
    if arr.dtype != np.uint8:
        raise DfmganError(f"{path}: images must be uint8 (0..255), got {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or len(arr) < 2 or min(arr.shape[1:]) < 1:
        raise DfmganError(f"{path}: expected at least 2 images of at least 1 px (N, H, W, C), "
                          f"got shape {arr.shape}")
    nhwc = arr.shape[-1] in (1, 3) and arr.shape[1] == arr.shape[2]
    nchw = arr.shape[1] in (1, 3) and arr.shape[2] == arr.shape[3]
    if nhwc:  # what `sample` writes; the reading taken when both fit, e.g. (N, 3, 3, 3)
        arr = arr.transpose(0, 3, 1, 2)
    if not (nhwc or nchw):
        raise DfmganError(f"{path}: expected square images with 1 or 3 channels, got {arr.shape}")
    return torch.from_numpy(np.ascontiguousarray(arr))


def header_of(path: Path, key: str | None = None) -> tuple[tuple, np.dtype]:
    """(shape, dtype) of an .npy, or of array ``key`` in an .npz, from its header alone."""
    import zipfile

    from numpy.lib import format as npformat

    def read(f):
        version = npformat.read_magic(f)
        shape, _, dtype = (npformat.read_array_header_1_0(f) if version == (1, 0)
                           else npformat.read_array_header_2_0(f))
        return shape, dtype

    if key is None:
        with open(path, "rb") as f:
            return read(f)
    with zipfile.ZipFile(path) as z, z.open(f"{key}.npy") as f:
        return read(f)


def check_fits(path: Path, key: str | None = None) -> None:
    """One line, before any array is read, where the images would not fit in memory: a
    12 MB .npz of four 1024 px images holds 12 MB, but an .npz of 10,000 of them 31 GB."""
    from ..data.base import available_memory

    try:
        shape, dtype = header_of(path, key)
    except (OSError, ValueError, KeyError, EOFError):
        return  # the reader names a damaged file in its own words
    nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if nbytes > available_memory() // 2:
        raise DfmganError(f"{path}: its images ({'x'.join(map(str, shape))}, {nbytes / 1e9:,.1f} GB) "
                          f"do not fit in the {available_memory() / 1e9:,.1f} GB of memory "
                          "available; judge fewer or smaller images")


def read_array(path: Path) -> np.ndarray:
    from ..reading import regular

    regular(path, "images file")
    try:
        if path.suffix.lower() == ".npy":
            check_fits(path)
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            if "images" not in keys and len(keys) != 1:
                raise DfmganError(f"{path}: an .npz of images holds 'images' (or one array); "
                                  f"it holds {', '.join(keys) or 'nothing'}")
            key = "images" if "images" in keys else keys[0]
            check_fits(path, key)
            return z[key]
    except DfmganError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise DfmganError(f"cannot read {path}: {' '.join(str(e).split())[:200]} "
                          f"(not a numpy {path.suffix} file, or a damaged one)") from None


def load_images(path: Path) -> tuple[torch.Tensor, str]:
    """(uint8 (N, C, H, W), description) of an image set."""
    path = Path(path)
    if path.suffix.lower() in IMAGE_FILES:
        from ..reading import regular

        if not regular(path, "images file").is_file():
            raise DfmganError(f"no file {path}")
        x = as_nchw(read_array(path), path)
        return x, f"{path} ({len(x):,} images)"
    return load_folder_images(path)


def load_folder_images(path: Path) -> tuple[torch.Tensor, str]:
    from PIL import Image

    from ..data.folder import list_images, load_folder

    files = list_images(path)
    try:
        with Image.open(files[0]) as first:
            size, channels = first.height, 1 if first.mode in ("L", "I", "I;16", "1") else 3
    except (OSError, Image.DecompressionBombError, ValueError) as e:  # a bomb is no OSError
        raise DfmganError(f"cannot read {files[0]}: {' '.join(str(e).split())}") from None
    source = load_folder(path, "train", size, channels)
    if len(source) < 2:  # a covariance needs two: FID, KID and the rest compare sets
        raise DfmganError(f"{path} holds {len(source)} image; a set to judge needs at least 2")
    return source.images, f"folder {path} ({len(source):,} images, {channels}x{size}x{size})"


# --- statistics files ------------------------------------------------------------------
# a bound on a statistics file's features: below it KID's cubic kernel reaches about 1e90
# and FID's product of two covariances about 1e63, far inside float64, while features of
# 1e300 made LAPACK segfault; real features (Inception's pool, the bundled nets') stay < 1e4
FEATURE_MAX = 1e15

def save_statistics(path: Path, feats: Features, provenance: dict) -> None:
    """``feats`` and their mean and covariance, with ``provenance``, atomically."""
    from safetensors.torch import save

    from ..files import atomic_write

    pool = feats.pool.double()
    tensors = {"pool": pool, "mu": pool.mean(0), "sigma": torch.cov(pool.T)}
    if feats.logits is not None:
        tensors["logits"] = feats.logits.double()
    meta = {"kind": STATS_KIND, **provenance}
    atomic_write(Path(path), save({k: v.contiguous() for k, v in tensors.items()},
                                  metadata={"dfmgan": json.dumps(meta)}))


def is_statistics(path: Path) -> bool:
    return Path(path).suffix == ".safetensors" and Path(path).is_file()


def load_statistics(path: Path) -> tuple[Features, dict]:
    """(features, provenance) of a statistics file; one line for anything else."""
    from safetensors.torch import load

    from ..reading import parse_json
    from ..snapshot_file import safetensors_header

    header = safetensors_header(Path(path))
    try:
        meta = parse_json((header.get("__metadata__") or {})["dfmgan"])
        if meta.get("kind") != STATS_KIND:
            raise KeyError("kind")
        tensors = load(Path(path).read_bytes())
        pool, logits = tensors["pool"], tensors.get("logits")
    except (KeyError, TypeError, ValueError, AttributeError):
        raise DfmganError(f"{path} is not a statistics file of `dfmgan reference`") from None
    if pool.dim() != 2 or pool.dtype != torch.float64 or len(pool) < 2 or \
            (logits is not None and logits.shape[0] != pool.shape[0]):
        raise DfmganError(f"{path}: its features have the wrong shape or type ({tuple(pool.shape)})")
    if not torch.isfinite(pool).all() or (logits is not None and not torch.isfinite(logits).all()):
        # before any linear algebra: a NaN covariance crashed LAPACK (a segfault), not one line
        raise DfmganError(f"{path}: its features hold NaN or inf; make it again with `dfmgan reference`")
    if pool.abs().max() > FEATURE_MAX or (logits is not None and logits.abs().max() > FEATURE_MAX):
        raise DfmganError(f"{path}: its features reach {pool.abs().max().item():.3g}, beyond the "
                          f"±{FEATURE_MAX:g} in which FID's and KID's float64 arithmetic stays "
                          "finite; make it again with `dfmgan reference`")
    return Features(pool, logits), meta


def check_statistics(meta: dict, net, size: int, channels: int, path) -> None:
    """Refuse statistics from another feature network or another image size."""
    if meta.get("feature_net") != net.name or meta.get("feature_net_sha256") != net.sha256:
        raise DfmganError(f"{path} was made with feature net {meta.get('feature_net')!r} "
                          f"({str(meta.get('feature_net_sha256'))[:12]}), not {net.name!r} "
                          f"({net.sha256[:12]}); make it again with --feature-net {net.choice}")
    if (meta.get("size"), meta.get("channels")) != (size, channels):
        raise DfmganError(f"{path} holds {meta.get('channels')}x{meta.get('size')} px images' "
                          f"statistics; the images to judge are {channels}x{size} px")
