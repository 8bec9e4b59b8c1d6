"""``--download``: the standard sets from their official addresses, checked against the
MD5 sums their publishers (and torchvision) list, never fetched unless asked.

Each file is streamed to ``NAME.part`` beside its destination with a progress bar, hashed
on the way, and renamed into place only when complete and matching; a dropped connection
or a wrong checksum leaves no file that looks complete. Files go into ``--data-root`` or
the cache, ``$DFMGAN_DATA`` (default ``$XDG_CACHE_HOME/dfmgan`` or ``~/.cache/dfmgan``),
one folder per set. ``$DFMGAN_DOWNLOAD_MIRROR`` replaces every official base address
(a local mirror; the tests' loopback server)."""
from __future__ import annotations

import hashlib
import http.client
import os
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .registry import IDX

MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # torchvision's; LeCun's page often fails
FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
CIFAR = "https://www.cs.toronto.edu/~kriz/"
SVHN = "http://ufldl.stanford.edu/housenumbers/"
STL = "http://ai.stanford.edu/~acoates/stl10/"


@dataclass(frozen=True)
class Remote:
    base: str
    name: str
    md5: str
    extract: bool = False  # a tar.gz the loader reads unpacked (STL-10)


REMOTES: dict[str, tuple[Remote, ...]] = {
    "mnist": tuple(Remote(MNIST, f, m) for f, m in zip(IDX, (
        "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
    "fashion-mnist": tuple(Remote(FASHION, f, m) for f, m in zip(IDX, (
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
        "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
    "cifar10": (Remote(CIFAR, "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
    "svhn": (Remote(SVHN, "train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
             Remote(SVHN, "test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"),
             Remote(SVHN, "extra_32x32.mat", "a93ce644f1a588dc4d68dda5feec44a7")),
    "stl10": (Remote(STL, "stl10_binary.tar.gz", "91f7769df0f17e558f3565bffb0c7dfb", extract=True),),
}


def source_of(name: str) -> str:
    """The set whose files a dataset reads: stacked-mnist reads MNIST's."""
    base = name.removeprefix("stacked-")
    if base not in REMOTES:
        raise DataError(f"--download knows {', '.join(REMOTES)} (and their stacked-* sets), "
                        f"not {name}")
    return base


def cache_home() -> Path:
    """``$DFMGAN_DATA``, else ``$XDG_CACHE_HOME/dfmgan``, else ``~/.cache/dfmgan``."""
    home = os.environ.get("DFMGAN_DATA") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dfmgan"
    return Path(home).expanduser()


def cache_dir(name: str) -> Path:
    return cache_home() / source_of(name)


def download(name: str, root: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Fetch ``name``'s files into ``root`` (default: the cache); files already there with
    the right checksum are kept. Returns the folder to pass as the data root."""
    folder = Path(root).expanduser() if root else cache_dir(name)
    if folder.suffix in (".gz", ".tar", ".mat"):
        folder = folder.parent  # a data root may name the archive itself (cifar10)
    folder.mkdir(parents=True, exist_ok=True)
    for remote in REMOTES[source_of(name)]:
        dest = folder / remote.name
        if not (dest.exists() and md5_of(dest) == remote.md5):
            fetch(url_of(remote), dest, remote.md5, progress)
        if remote.extract and not (folder / remote.name.split(".")[0]).is_dir():
            unpack(dest, folder)
    return folder


def url_of(remote: Remote) -> str:
    mirror = os.environ.get("DFMGAN_DOWNLOAD_MIRROR")
    return (mirror.rstrip("/") + "/" if mirror else remote.base) + remote.name


def md5_of(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(url: str, dest: Path, md5: str, progress: bool = True) -> None:
    """``url`` -> ``dest``, complete and checked, or no ``dest`` at all."""
    from tqdm import tqdm

    part = dest.with_name(dest.name + ".part")
    h = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(part, "wb") as f:
            size, got = int(r.headers.get("Content-Length") or 0), 0
            with tqdm(total=size or None, unit="B", unit_scale=True, desc=dest.name,
                      disable=not progress, leave=False) as bar:
                for chunk in iter(lambda: r.read(1 << 20), b""):
                    f.write(chunk)
                    h.update(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
        if size and got != size:
            raise ValueError(f"the connection closed after {got:,} of {size:,} bytes")
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        # a refused or dropped connection (IncompleteRead: fewer bytes than announced)
        part.unlink(missing_ok=True)
        raise DataError(f"cannot download {url}: {getattr(e, 'reason', None) or e}") from None
    if h.hexdigest() != md5:
        part.unlink(missing_ok=True)
        raise DataError(f"{url}: MD5 {h.hexdigest()} is not the published {md5}; nothing kept")
    os.replace(part, dest)


def unpack(archive: Path, folder: Path) -> None:
    """A checked tar.gz, unpacked safely (no path outside ``folder``, no links)."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise DataError(f"cannot unpack {archive}: {e}") from None
