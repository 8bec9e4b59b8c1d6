"""The one output policy every writer goes through (cf. coreutils' ``install`` and
``mv``), so that no command deletes or replaces what it did not write:

* a target that exists as anything but a regular file or a folder (a device node such as
  ``/dev/null``, a FIFO, a socket) or that is a symbolic link is refused: dfmgan writes by
  renaming a new file over the old one, which would replace the node or the link itself;
* an output never lands on one of a run's own files (its config, stats, snapshots,
  checkpoints, grids, best state), unless writing that file is the command's purpose
  (``eval`` appends to RUN/metrics.jsonl, ``report`` writes RUN/report.html);
* a folder output is never a run folder, or a folder inside one, unless it is the run
  being trained;
* nothing is written inside the model zoo's folder (``zoo:NAME`` models ship with dfmgan).

``files.writable_file`` / ``writable_folder`` apply it before any work; ``atomic_write``
applies the first rule again at the moment of the rename, so nothing slips through a path
that changed in between. Nothing here imports torch."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from . import zoo
from .errors import ConfigError
from .layout import RunLayout

KINDS = {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device", stat.S_IFIFO: "FIFO",
         stat.S_IFSOCK: "socket"}


def shown(path) -> str:
    """A path as one line: control characters (a newline in a name) escaped."""
    return str(path).encode("unicode_escape").decode("ascii")


def special_kind(path: Path) -> str | None:
    """"symbolic link", "character device", ... for a path dfmgan must not replace; None
    for a regular file, a folder, or nothing there."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return None  # unreadable: the write itself will say why
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return KINDS.get(stat.S_IFMT(mode), "special file")


def refuse_special(path: Path) -> None:
    kind = special_kind(Path(path))
    if kind:
        raise ConfigError(f"{shown(path)} is a {kind}; dfmgan replaces only regular files and "
                          "writes into real folders: give another path")


PACKAGE = Path(os.path.realpath(Path(__file__).parent))  # dfmgan's own files, the zoo's too


def real(path) -> Path:
    """Where ``path`` lands once every link on the way is followed (the links in its folders
    included: ``c/state.pt`` with ``c`` a link into a run's checkpoints/ is that checkpoint)."""
    return Path(os.path.realpath(path))


def run_owning(path: Path) -> Path | None:
    """The run folder whose own file or folder the real ``path`` is, looking at every
    folder above it (R/samples/sub/x.png is R's samples), else None."""
    p = real(path)
    for folder in (p, *p.parents):
        if RunLayout(folder).config_path.is_file() and RunLayout(folder).role(p):
            return folder
    return None


def check_output(path, purpose: str | None = None) -> Path:
    """``path`` may be written by a command whose purpose is ``purpose`` (a RunLayout role
    such as "metrics", or "run" for train's own folder), or one line says why not. Every
    rule reads the real path, wherever a chain of links points."""
    if not str(path).strip():  # Path("") is ".": an empty --out would write into the cwd
        raise ConfigError("an empty path was given as an output: give --out a file or folder name")
    p = Path(path)
    refuse_special(p)
    if zoo.inside(real(p)) or zoo.inside(p):
        raise ConfigError(f"{shown(p)} is inside dfmgan's model zoo, which ships read-only "
                          "with the package: give --out a path outside it")
    if real(p) == PACKAGE or PACKAGE in real(p).parents:
        raise ConfigError(f"{shown(p)} is inside the dfmgan package ({shown(PACKAGE)}), "
                          "which no command writes: give --out a path outside it")
    run = run_owning(p)
    if run is not None:
        role = RunLayout(run).role(real(p))
        if role != purpose:
            what = "a run folder" if role == "run" else f"{shown(run)}'s own {role} ({p.name})"
            raise ConfigError(f"{shown(p)} is {what}; writing it would change that run: "
                              "give a path outside it")
    return p


def check_free(folder: Path, names) -> None:
    """The files a command is about to write into ``folder`` (names the user did not give
    one by one) are not there yet: a file of someone else's is never replaced."""
    folder = Path(folder)
    taken = [n for n in names if os.path.lexists(folder / n)]
    if taken:
        more = f" and {len(taken) - 1} more" if len(taken) > 1 else ""
        raise ConfigError(f"{shown(folder)} already holds {taken[0]}{more}, which this command "
                          "would replace: give a new or empty folder")
