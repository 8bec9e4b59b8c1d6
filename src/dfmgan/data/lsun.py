"""LSUN scenes from the official LMDB export (e.g. ``bedroom_train_lmdb``).

Values are encoded images (WebP or JPEG). The database is streamed: only its keys are
held in memory, and each batch decodes its own images. Needs ``pip install -e '.[lsun]'``."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from .base import StreamingSource, describe
from .registry import register_dataset
from .images import BadImage, ImageOptions, open_and_convert

SOURCE = "an LMDB folder from the LSUN download script, e.g. bedroom_train_lmdb (data.mdb, lock.mdb)"


class LmdbStream(StreamingSource):
    def __init__(self, root: Path, size: int, channels: int, opts: ImageOptions = ImageOptions()):
        try:
            import lmdb
        except ImportError:
            raise DataError("lsun needs the lmdb package: pip install -e '.[lsun]' in the dfmgan checkout") from None
        if not (root / "data.mdb").is_file():
            raise DataError(f"lsun: expected data.mdb in {root} ({SOURCE})")
        super().__init__(size, channels)
        self.root, self.opts = root, opts
        try:
            self.env = lmdb.open(str(root), readonly=True, lock=False, readahead=False,
                                 meminit=False, max_readers=64)
            with self.env.begin() as txn:
                self.keys = [k for k in txn.cursor().iternext(keys=True, values=False)]
        except lmdb.Error as e:
            raise DataError(f"cannot read {root}: {e} (truncated or corrupt?)") from None
        if not self.keys:
            raise DataError(f"lsun: {root} holds no images")
        self.description = describe(f"lsun {root} (streamed)", len(self.keys), self.shape)
        self.names = [k.decode(errors="replace") for k in self.keys]

    def __len__(self) -> int:
        return len(self.keys)

    def decode(self, i: int) -> np.ndarray:
        with self.env.begin() as txn:
            raw = txn.get(self.keys[i])
        try:
            return open_and_convert(lambda: Image.open(io.BytesIO(raw)), self.size,
                                    self.channels, self.opts)
        except BadImage as e:
            raise DataError(f"cannot decode key {self.keys[i]!r} of {self.root}: {e}") from None


@register_dataset("lsun", splits=("train",), takes="size,channels", streams=True, expects=SOURCE,
                  preset="lsun-bedroom-64", decodes=True)
def load_lsun(root: Path, split: str, size: int, channels: int,
              image: ImageOptions = ImageOptions()) -> LmdbStream:
    return LmdbStream(root, size, channels, image)
