"""``dfmgan dedup``: near-duplicate removal as in DCGAN §4.1.1.

Fit the hashing autoencoder (``models.autoencoder``) on 32×32 centre crops of the data,
hash every image by which code units fire (128 bits), and group identical hashes
(optionally joined within a Hamming radius). Images are read in batches from the
loader, so memory holds only the 16-byte codes besides one batch: a million images
need 16 MB of codes."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..files import atomic_write
from ..data import to_float
from ..errors import ConfigError
from ..models import AutoencoderConfig, HashAutoencoder
from .hashes import group_ids, pack

SIZE = 32  # the paper's 32×32 crops


@dataclass(frozen=True)
class DedupSettings:
    steps: int = 2000  # autoencoder training steps
    batch: int = 256
    lr: float = 1e-3  # Adam
    noise: float = 0.2  # σ of the Gaussian corruption, in [-1, 1] pixel units
    dropout: float = 0.5  # on the code layer
    code: int = 128  # hash bits
    radius: int = 0  # also join hashes within this many differing bits
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch", "code"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be at least 1")
        if self.noise < 0 or self.lr <= 0:
            raise ConfigError("--noise must be >= 0 and --lr > 0")
        if not 0 <= self.radius < self.code:
            raise ConfigError(f"--radius {self.radius}: must be in [0, {self.code})")

    def training(self) -> dict:
        """What decides the autoencoder's weights (the radius does not)."""
        return {k: v for k, v in asdict(self).items() if k != "radius"}


def random_batch(source, n: int, g: torch.Generator) -> torch.Tensor:
    """n images drawn with replacement, (n, C, 32, 32) uint8."""
    x, _ = source.get(torch.randint(len(source), (n,), generator=g))
    return x


def train_autoencoder(source, s: DedupSettings, device="cpu") -> tuple[HashAutoencoder, float]:
    """Denoising MSE: ‖ae(x + σε) − x‖², with dropout on the code. Returns (ae, last loss)."""
    torch.manual_seed(s.seed)  # init and dropout masks
    c = source.shape[0]
    ae = HashAutoencoder(AutoencoderConfig(SIZE, c, s.code, s.dropout)).to(device)
    opt = torch.optim.Adam(ae.parameters(), lr=s.lr)
    g = torch.Generator().manual_seed(s.seed)
    ae.center.copy_(to_float(random_batch(source, 10_000, g)).mean(0).flatten().to(device))
    bar = tqdm(range(s.steps), desc="autoencoder", unit="step", leave=False)
    loss = torch.zeros(())
    for _ in bar:
        x = to_float(random_batch(source, s.batch, g))  # (B, C, 32, 32)
        noisy = x + s.noise * torch.randn(x.shape, generator=g)
        loss = torch.nn.functional.mse_loss(ae(noisy.to(device)), x.flatten(1).to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.set_postfix(mse=f"{loss.item():.4f}", refresh=False)
    return ae.eval(), float(loss.detach())


class PartialCodes:
    """Codes being written to ``folder/hashes.partial.npy`` (memory-mapped), with a JSON
    marker of how many leading rows are final, so a killed hashing pass resumes. The
    marker is rewritten only after the rows it counts are flushed to disk."""

    def __init__(self, folder: Path, n: int, width: int):
        self.npy, self.marker = folder / "hashes.partial.npy", folder / "hashes.partial.json"
        self.done = self._resumable(n, width)
        mode = "r+" if self.done else "w+"
        self.codes = np.lib.format.open_memmap(self.npy, mode, np.uint8, (n, width))

    def _resumable(self, n: int, width: int) -> int:
        try:
            m = json.loads(self.marker.read_text())
            ok = m["shape"] == [n, width] and self.npy.is_file()
            return int(m["done"]) if ok else 0
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def mark(self, done: int) -> None:
        self.codes.flush()
        atomic_write(self.marker, json.dumps({"done": done, "shape": list(self.codes.shape)}).encode())

    @staticmethod
    def clear(folder: Path) -> None:
        for name in ("hashes.partial.json", "hashes.partial.npy"):  # marker first
            (folder / name).unlink(missing_ok=True)


def hash_source(ae: HashAutoencoder, source, batch: int = 1024, device="cpu",
                resume: Path | None = None, save_every: float = 10.0) -> tuple[np.ndarray, float]:
    """Every image's code, (N, code/8) uint8, read one batch at a time; and images/s.

    With ``resume`` (a folder), progress is kept there every ``save_every`` seconds and a
    pass that was killed continues where its last mark left off."""
    n, width = len(source), (ae.cfg.code + 7) // 8
    store = PartialCodes(resume, n, width) if resume is not None else None
    codes = store.codes if store else np.empty((n, width), np.uint8)
    first = store.done if store else 0
    start = last = time.perf_counter()
    bar = tqdm(range(first, n, batch), desc="hashing", unit="batch", leave=False)
    for s in bar:
        x, _ = source.get(torch.arange(s, min(s + batch, n)))
        codes[s:s + len(x)] = pack(ae.bits(to_float(x).to(device)))
        if store and time.perf_counter() - last >= save_every:
            store.mark(s + len(x))
            last = time.perf_counter()
    rate = (n - first) / max(time.perf_counter() - start, 1e-9)
    return np.array(codes), rate


def duplicate_groups(ids: np.ndarray) -> list[np.ndarray]:
    """Members of each group of two or more, largest first (ties: by first member)."""
    counts = np.bincount(ids)
    idx = np.flatnonzero(counts[ids] >= 2)
    if not len(idx):
        return []
    order = idx[np.argsort(ids[idx], kind="stable")]
    cuts = np.flatnonzero(np.diff(ids[order])) + 1
    groups = np.split(order, cuts)
    return sorted(groups, key=lambda m: (-len(m), m[0]))


def kept_mask(n: int, groups: list[np.ndarray]) -> np.ndarray:
    """Keep each group's first image and every image outside a group."""
    keep = np.ones(n, bool)
    for m in groups:
        keep[m[1:]] = False
    return keep


@dataclass
class DedupResult:
    codes: np.ndarray  # (N, code/8) uint8
    ids: np.ndarray  # (N,) group of each image
    groups: list[np.ndarray]  # duplicate groups, largest first
    images_per_s: float
    train_seconds: float
    loss: float


def dedup(source, s: DedupSettings, ae: HashAutoencoder | None = None, device="cpu",
          resume: Path | None = None, on_trained=None) -> tuple[HashAutoencoder, DedupResult]:
    """Train (unless ``ae`` is given), hash and group ``source`` (32 px images).

    ``on_trained(ae, loss)`` runs after training and before hashing (to save the network);
    ``resume``: a folder that keeps hashing progress (see ``hash_source``)."""
    if source.shape[1:] != (SIZE, SIZE):
        raise ConfigError(f"dedup hashes {SIZE}×{SIZE} crops; got {source.shape}")
    t0, loss = time.perf_counter(), float("nan")
    if ae is None:
        ae, loss = train_autoencoder(source, s, device)
        if on_trained is not None:
            on_trained(ae, loss)
    train_seconds = time.perf_counter() - t0
    codes, rate = hash_source(ae, source, device=device, resume=resume)
    ids = group_ids(codes, s.radius)
    return ae, DedupResult(codes, ids, duplicate_groups(ids), rate, train_seconds, loss)
