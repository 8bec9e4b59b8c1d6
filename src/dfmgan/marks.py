"""dfmgan's mark on the single files it writes, and how a file is recognised as one of its
own: the output policy (``outputs``) replaces an existing file only when it carries the mark,
so ``sample --out photo.png`` never overwrites a photo, and rerunning a command replaces what
it wrote before.

Each format carries the mark where the format keeps such facts, so the file stays an ordinary
file of its kind to every other reader:

=================  ==========================================================================
PNG                a ``tEXt`` chunk ``Software`` = ``dfmgan`` (before the image data)
GIF                a comment extension ``dfmgan``
.npz (a zip)       the zip archive's comment ``dfmgan``
.safetensors       a ``dfmgan`` key in the header's ``__metadata__``
JSON               a top-level ``"written_by": "dfmgan"``
JSON lines         that key on every row
HTML               ``<meta name=generator content=dfmgan>`` in the head
=================  ==========================================================================

Recognition reads a bounded part of the file (its first 64 KiB, a zip's last 64 KiB, a
safetensors header of at most ``HEADER_MAX``, a JSON document of at most ``JSON_MAX``): a
large or hostile file costs no more than that, and anything unrecognised is not dfmgan's. Nothing here imports
torch or another dfmgan module."""
from __future__ import annotations

import json
import struct
from pathlib import Path

MARK = "dfmgan"
KEY = "written_by"  # JSON's field for it
HTML_META = f"<meta name=generator content={MARK}>"
HEAD = 1 << 16  # PNG's text chunks, GIF's comment and HTML's head come before this
ZIP_TAIL = 22 + 0xFFFF  # a zip's end record and the longest comment it can hold
HEADER_MAX = 16 << 20  # a safetensors header larger than this is not one of dfmgan's
JSON_MAX = 64 << 20  # nor a JSON document


def signed(record: dict) -> dict:
    """``record`` with the mark first (JSON keeps the order)."""
    return {KEY: MARK, **{k: v for k, v in record.items() if k != KEY}}


def _png(head: bytes, path: Path) -> bool:
    at = 8
    while at + 8 <= len(head):  # chunks: 4-byte length, 4-byte type, data, 4-byte CRC
        n, kind = struct.unpack(">I4s", head[at:at + 8])
        if kind in (b"IDAT", b"IEND"):
            return False
        if kind == b"tEXt" and head[at + 8:at + 8 + n] == b"Software\0" + MARK.encode():
            return True
        at += 12 + n
    return False


def _gif(head: bytes, path: Path) -> bool:
    return b"\x21\xfe" + bytes([len(MARK)]) + MARK.encode() + b"\x00" in head


def _zip(head: bytes, path: Path) -> bool:
    """The comment of the zip's end record, read from the file's last 64 KiB: the central
    directory (a million entries, in a hostile file) is never walked."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - ZIP_TAIL))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")  # the end of central directory record, 22 bytes + comment
    n = int.from_bytes(tail[at + 20:at + 22], "little") if at >= 0 else -1
    return n == len(MARK) and tail[at + 22:] == MARK.encode()


def _safetensors(head: bytes, path: Path) -> bool:
    n = int.from_bytes(head[:8], "little")
    if not 2 <= n <= HEADER_MAX:
        return False
    with open(path, "rb") as f:
        f.seek(8)
        header = _loads(f.read(n))
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return isinstance(meta, dict) and MARK in meta


def _loads(raw: bytes):
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _json(head: bytes, path: Path) -> bool:
    if path.stat().st_size > JSON_MAX:
        return False
    raw = path.read_bytes()
    doc = _loads(raw)
    if isinstance(doc, dict):
        return doc.get(KEY) == MARK
    rows = [_loads(line) for line in raw.splitlines() if line.strip()]  # JSON lines
    return bool(rows) and all(isinstance(r, dict) and r.get(KEY) == MARK for r in rows)


def _html(head: bytes, path: Path) -> bool:
    return HTML_META.encode() in head


def _sniffers(head: bytes) -> list:
    """The recognisers for the formats the first bytes may announce (a safetensors file
    whose header length ends in byte 0x7b also starts like JSON: both are tried)."""
    text = head.lstrip()
    table = [(head.startswith(b"\x89PNG\r\n\x1a\n"), _png),
             (head.startswith((b"GIF87a", b"GIF89a")), _gif),
             (head.startswith((b"PK\x03\x04", b"PK\x05\x06")), _zip),
             (head[8:9] == b"{", _safetensors),
             (text[:1] in (b"{", b"["), _json),
             (text[:9].lower() == b"<!doctype" or text[:5].lower() == b"<html", _html)]
    return [sniff for announced, sniff in table if announced]


def ours(path) -> bool:
    """Whether the regular file at ``path`` carries dfmgan's mark (an empty or unreadable
    file does not)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD)
        return any(sniff(head, path) for sniff in _sniffers(head))
    except OSError:
        return False
