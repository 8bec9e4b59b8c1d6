"""Writing files safely, without torch: atomic writes that never leave a torn file
(``atomic_write``), what a kill leaves behind (``temp_files``), and whether an output
folder or file can be written before any work (``writable_folder``, ``writable_file``).
Reading back is ``reading.py``'s; the snapshot format is ``snapshot_file.py``'s."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .errors import ConfigError, DfmganError
from .marks import ours, signed
from .outputs import check_output, run_owning, shown, special_kind

def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _file_mode() -> int:
    """What ``open()`` would give a new file: 0o666 less the umask (mkstemp uses 0o600)."""
    return 0o666 & ~_umask()


def temp_folder(beside: Path) -> Path:
    """A new folder beside ``beside``, to fill and then rename into place, with the mode
    ``mkdir`` would give it (0o777 less the umask; mkdtemp alone gives 0o700)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{beside.name}.", suffix=".tmp", dir=beside.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


class WriteError(DfmganError):
    """A file could not be written (a full disk, no permission); the old one is intact."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, rename over ``path``, fsync the
    folder: a reader sees the old file or the new one, never a torn one. A failure (a
    full disk, say) leaves the old file as it was and no temp file behind."""
    path = Path(path)
    kind = special_kind(path)
    if kind:  # checked again at the rename: a path that became a link or a node meanwhile
        raise WriteError(f"refusing to write {shown(path)}: it is a {kind}, which dfmgan "
                         "never replaces")
    try:
        _atomic_write(path, data)
    except OSError as e:
        raise WriteError(f"cannot write {shown(path)}: {e.strerror or e}; the previous "
                         f"{path.name} (if any) is intact") from None


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_record(path: Path, record: dict) -> None:
    """A JSON record a user named, atomically and with dfmgan's mark (``marks``), so that
    a later run of the command may replace it and nothing else is ever replaced."""
    atomic_write(Path(path), json.dumps(signed(record), indent=2).encode())


def temp_files(run_dir: Path) -> list[Path]:
    """What a write killed halfway leaves: ``atomic_write``'s ``.NAME.XXXX.tmp`` files."""
    run = Path(run_dir)
    return [p for folder in (run, *(d for d in run.iterdir() if d.is_dir()))
            for p in folder.glob(".*.tmp") if p.is_file()] if run.is_dir() else []


def writable_folder(path: str | os.PathLike, purpose: str | None = None) -> Path:
    """Checked before the work whose output goes there: the output policy allows it
    (``outputs``: no link, no device, no run's own folder unless ``purpose`` is "run"),
    and ``path`` is a folder or can be made one where a file can be created (tried, not
    guessed: ``os.access`` says yes to root on a read-only mount). Nothing is created."""
    p = check_output(path, purpose)
    can_write_in(p)
    return p


def can_write_in(p: Path) -> None:
    """``p`` is (or can become) a folder in which a file can be created, else one line."""
    for part in p.parts:
        if len(os.fsencode(part)) > 255:
            raise ConfigError(f"{shown(part[:20])}...: a name longer than 255 bytes")
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{shown(p)} is a file; give a folder")
    ancestor = p
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"cannot write to {shown(p)}: {shown(ancestor)} is a file")
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as e:
        raise ConfigError(f"cannot write to {shown(p)}: {e.strerror or e}") from None


def writable_file(path: str | os.PathLike, purpose: str | None = None) -> Path:
    """As ``writable_folder``, for a file: the output policy allows it (``purpose``: the
    run file the command exists to write, e.g. "metrics" for eval), it is no folder, and
    its folder is writable."""
    p = check_output(path, purpose)
    if p.is_dir():
        raise ConfigError(f"{shown(p)} is a folder; give a file name")
    refuse_foreign(p)
    can_write_in(p.parent)
    if len(os.fsencode(p.name)) > 255:
        raise ConfigError(f"{shown(p.name[:20])}...: a file name longer than 255 bytes")
    return p


def refuse_foreign(p: Path) -> None:
    """An existing file is replaced (or appended to) only if dfmgan wrote it: it carries
    dfmgan's mark (``marks``), or it is a run's own file that the command exists to write
    (``check_output`` has allowed its role), or it is empty (``mktemp``'s: nothing in it to
    lose). Someone else's file is one line."""
    if p.is_file() and p.stat().st_size and run_owning(p) is None and not ours(p):
        raise ConfigError(f"{shown(p)} exists and dfmgan did not write it (it carries no "
                          "dfmgan mark), so it is not replaced: remove it or give another path")


class Held:
    """An advisory lock (``fcntl.flock``) on a file, held until ``release`` or the process
    ends: the kernel drops it when the holder dies, so a SIGKILL never leaves a stale lock."""

    def __init__(self, fd: int):
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None


def hold(lock: Path, what: str, wait: bool = False) -> Held:
    """Take ``lock`` (an empty file, created if need be) for this process; with ``wait``
    False, one line naming the holder's PID when another process has it. Nothing is
    written into it, so taking it changes no file of the run (a refused resume leaves the
    folder as it was); the holder is found in the kernel's table of locks."""
    import fcntl

    lock = Path(lock)
    fd = os.open(lock, os.O_RDONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), _file_mode())
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        holder = lock_holder(os.fstat(fd).st_ino) or "unknown"
        os.close(fd)
        raise DfmganError(f"{what} is in use by process {holder} (another dfmgan writing it); "
                          "wait for it to end, or stop it") from None
    return Held(fd)


def lock_holder(inode: int) -> str | None:
    """The PID holding a flock on the file with this inode, from /proc/locks (Linux)."""
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:  # "1: FLOCK  ADVISORY  WRITE 12345 fd:01:123456 0 EOF"
        parts = line.split()
        if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == str(inode):
            return parts[4]
    return None