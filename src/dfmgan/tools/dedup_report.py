"""What ``dfmgan dedup DATA --out DIR`` reads and writes.

DIR receives ``groups.json`` and ``groups.csv`` (every group of two or more: the kept
image first), ``contact_sheet.png`` (the largest groups, a row each), ``hashes.npy``
((N, 16) uint8, read back with ``np.load(allow_pickle=False)``) and the autoencoder as
``autoencoder.safetensors`` + ``.json``. A later run into the same DIR with the same
data and training settings reuses that autoencoder instead of training again. Options
add ``kept.txt`` (the filtered index) and a copy of the kept images."""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..snapshot_file import export_snapshot, read_snapshot
from ..checkpoint import load_module_state
from ..files import atomic_write
from ..reading import parse_json
from ..outputs import check_free

OUT_FILES = ("groups.json", "groups.csv", "hashes.npy", "contact_sheet.png", "kept.txt")  # in --out


def is_report(out: Path) -> bool:
    """Whether ``out`` holds a report of ``dfmgan dedup`` (its groups.json is one), whose
    files a new run into the same folder may rewrite."""
    try:
        head = parse_json((out / "groups.json").read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(head, dict) and "groups_found" in head and "radius" in head
from ..data import dataset_or_folder, load_dataset
from ..errors import ConfigError
from ..imageio import grid_array, save_png, to_pil
from ..models import AutoencoderConfig, HashAutoencoder
from .dedup import SIZE, DedupResult, DedupSettings, PartialCodes, dedup, kept_mask
from .hashes import to_hex

AE_SNAPSHOT = "autoencoder.safetensors"


def image_names(source) -> list[str]:
    """Each image's name as its data set gives it (a file's path under the folder, an LMDB
    key), else its index in the loader's order."""
    return list(source.names) if source.names is not None else [str(i) for i in range(len(source))]


def reuse_autoencoder(out: Path, record: dict, device):
    """The autoencoder in ``out`` when it was fit to the same data and settings, else None."""
    path = out / AE_SNAPSHOT
    if not path.exists():
        return None
    cfg, weights, meta = read_snapshot(path, AE_SNAPSHOT, AutoencoderConfig)
    if meta.get("trained_on") != record:
        return None
    ae = HashAutoencoder(cfg)
    load_module_state(ae, weights, str(path))
    print(f"reusing {path} (same data and training settings)")
    return ae.to(device).eval()


def group_rows(result: DedupResult, names: list[str]) -> list[dict]:
    return [{"group": g, "size": len(m), "keep": names[m[0]], "hash": to_hex(result.codes[m[0]]),
             "members": [names[i] for i in m]} for g, m in enumerate(result.groups)]


def write_tables(out: Path, header: dict, rows: list[dict], result: DedupResult) -> None:
    body = {**header, "groups": rows}
    atomic_write(out / "groups.json", json.dumps(body, indent=1).encode())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["group", "size", "member", "kept", "hash"])
    for row, m in zip(rows, result.groups):
        for k, name in enumerate(row["members"]):
            w.writerow([row["group"], row["size"], name, int(k == 0), to_hex(result.codes[m[k]])])
    atomic_write(out / "groups.csv", buf.getvalue().encode())
    npy = io.BytesIO()
    np.save(npy, result.codes, allow_pickle=False)
    atomic_write(out / "hashes.npy", npy.getvalue())


def contact_sheet(source, groups: list[np.ndarray], path: Path, rows: int = 16,
                  cols: int = 12) -> Path:
    """The ``rows`` largest groups, one per row, up to ``cols`` members each (kept first)."""
    c = source.shape[0]
    if not groups:  # still a sheet, so the promised file exists: one blank tile
        return save_png(to_pil(grid_array(torch.full((1, c, SIZE, SIZE), 128, dtype=torch.uint8))), path)
    cols = min(cols, len(groups[0]))  # no wider than the largest group
    tiles = torch.full((min(rows, len(groups)) * cols, c, SIZE, SIZE), 128, dtype=torch.uint8)
    for r, members in enumerate(groups[:rows]):
        shown = torch.as_tensor(members[:cols])
        tiles[r * cols:r * cols + len(shown)] = source.get(shown)[0]
    return save_png(to_pil(grid_array(tiles, nrow=cols), scale=2), path)


def copy_kept(data: str, root, split, keep: np.ndarray, source, dest: Path) -> int:
    """Images that are files (a folder): the kept files themselves, at their names; other
    data: a PNG per kept image at its own size, under a subfolder per class, so
    ``--data folder`` reads the copy back."""
    kept, names = np.flatnonzero(keep), image_names(source)
    if source.files is not None:
        for i in tqdm(kept, desc="copying", unit="img", leave=False):
            (dest / names[i]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source.files[i], dest / names[i])
        return len(kept)
    full = load_dataset(data, root, split)
    for s in tqdm(range(0, len(kept), 1024), desc="copying", unit="batch", leave=False):
        idx = torch.as_tensor(kept[s:s + 1024])
        images, labels = full.get(idx)
        for k, (i, img) in enumerate(zip(idx.tolist(), images)):
            folder = dest / class_name(full, labels, k)
            folder.mkdir(parents=True, exist_ok=True)
            # a new folder, so no earlier file to protect: plain writes, no fsync per image
            to_pil(img.numpy().transpose(1, 2, 0)).save(folder / f"{i:07d}.png")
    return len(kept)


def class_name(source, labels, k: int) -> str:
    if labels is None:
        return "."
    y = int(labels[k])
    return source.classes[y] if source.classes else f"{y:03d}"


def run_dedup(data: str, root, split, s: DedupSettings, out: Path, index: bool,
              copy: Path | None, device="cpu") -> dict:
    """``dfmgan dedup``: returns the summary written at the top of groups.json."""
    data, root = dataset_or_folder(data, root)
    if copy is not None and copy.exists() and any(copy.iterdir()):  # checked before any work
        raise ConfigError(f"--copy {copy} exists and is not empty; give a new folder")
    if not is_report(out):  # a report of ours is rewritten (and its autoencoder reused)
        check_free(out, OUT_FILES)
    source = load_dataset(data, root, split, size=SIZE)
    out.mkdir(parents=True, exist_ok=True)
    record = {"data": data, "root": str(root) if root else None, "split": split,
              "images": len(source), "shape": list(source.shape), **s.training()}

    def save(ae, loss):  # before hashing: a killed run reuses it, with its partial codes
        PartialCodes.clear(out)  # codes of an earlier network
        export_snapshot(out, ae, {"trained_on": record, "final_mse": loss}, AE_SNAPSHOT)

    ae, result = dedup(source, s, reuse_autoencoder(out, record, device), device,
                       resume=out, on_trained=save)
    names = image_names(source)
    keep = kept_mask(len(source), result.groups)
    header = {"description": source.description, **record, "radius": s.radius,
              "groups_found": len(result.groups), "images_removed": int((~keep).sum()),
              "hash_images_per_s": round(result.images_per_s, 1),
              "train_seconds": round(result.train_seconds, 2)}
    write_tables(out, header, group_rows(result, names), result)
    PartialCodes.clear(out)  # hashes.npy now holds them
    contact_sheet(source, result.groups, out / "contact_sheet.png")
    if index:
        atomic_write(out / "kept.txt", "".join(names[i] + "\n" for i in np.flatnonzero(keep)).encode())
    if copy is not None:
        header["copied"] = copy_kept(data, root, split, keep, source, copy)
    return header
