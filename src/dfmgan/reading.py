"""Reading files back safely, without torch: JSON with a depth limit (``parse_json``,
``check_depth``) and what a file is by its first bytes (``kind_of``)."""
from __future__ import annotations

import json
from pathlib import Path

MAX_DEPTH = 32  # the deepest nesting any file dfmgan reads back needs is 5


class TooDeep(ValueError):
    """A JSON or YAML document nested deeper than ``MAX_DEPTH``, or one that refers to
    itself (a recursive YAML anchor): refused like malformed JSON, never a RecursionError."""


def check_depth(obj, limit: int = MAX_DEPTH) -> None:
    """Walk ``obj`` without recursion; ``TooDeep`` past ``limit`` levels or on a cycle."""
    stack = [(obj, 0, frozenset())]
    while stack:
        node, depth, above = stack.pop()
        if not isinstance(node, (dict, list, tuple)):
            continue
        if id(node) in above:
            raise TooDeep("it refers to itself (a recursive anchor)")
        if depth >= limit:
            raise TooDeep(f"it is nested deeper than {limit} levels")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1, above | {id(node)}) for c in children)


def check_numbers(obj, error=ValueError) -> None:
    """Every integer in a loaded document fits 64 bits: one past it (a 400-digit count) is
    ``error`` here, one line, not an OverflowError in whatever first computes with it."""
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= 2 ** 63:
            raise error(f"the number {str(node)[:12]}... ({len(str(abs(node)))} digits) "
                        "is too large for any setting")


def regular(path, what: str = "file") -> Path:
    """``path`` if it is a regular file (or does not exist: the reader names that); one
    line otherwise. A FIFO would block the reader forever, a device would never end: every
    file dfmgan reads is checked here first, by ``stat``, which neither opens nor blocks."""
    import stat

    from .errors import DfmganError

    p = Path(path)
    try:
        mode = p.stat().st_mode
    except OSError:
        return p
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or
                stat.S_ISBLK(mode) else "not a regular file")
        raise DfmganError(f"{what} {p} is {kind}, not a file")
    return p


def parse_json(text):
    """``json.loads`` with a depth limit: a document nested past ``MAX_DEPTH`` is a
    ``ValueError`` (``TooDeep``) like any malformed JSON, which every reader turns into one
    line naming the file."""
    try:
        obj = json.loads(text)
    except RecursionError:
        raise TooDeep(f"it is nested deeper than {MAX_DEPTH} levels") from None
    check_depth(obj)
    return obj


# a file's first bytes -> what it is, for a message naming the kind of a wrong file
MAGIC = ((b"PK\x03\x04", "a zip archive, as a torch .pt or a numpy .npz is; a run folder or "
          "a .safetensors snapshot is asked for here"),
         (b"\x80", "a Python pickle (an old-style torch .pt?), which dfmgan never loads"),
         (b"\x93NUMPY", "a numpy .npy array"), (b"\x89PNG", "a PNG image"),
         (b"\xff\xd8\xff", "a JPEG image"), (b"\x1f\x8b", "a gzip file"),
         (b"{", "JSON text"), (b"", "empty"))


def kind_of(path: Path) -> str | None:
    """What ``path`` looks like from its first bytes, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if not head:
        return "empty"
    return next((what for magic, what in MAGIC if magic and head.startswith(magic)), None)

