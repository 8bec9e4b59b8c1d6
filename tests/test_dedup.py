"""De-duplication (DCGAN §4.1.1): hash codes and grouping by hand, the autoencoder's
hash, planted duplicates found and distinct images kept apart, the CLI's files."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from conftest import run_cli
from PIL import Image

from dfmgan.data import ArraySource, load_dataset
from dfmgan.models import AutoencoderConfig, HashAutoencoder
from dfmgan.tools.dedup import DedupSettings, dedup, duplicate_groups, hash_source, kept_mask
from dfmgan.tools.hashes import (bucket_ids, dhash_codes, exact_pixel_codes, group_ids, hamming,
                                 pack, pair_scores)
from dfmgan.tools.perturb import KINDS, jpeg, plant, scale, shift

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only


def codes(*rows: int) -> np.ndarray:
    """8-bit codes given as integers -> (N, 1) uint8."""
    return np.array(rows, np.uint8)[:, None]


# --- hash codes and grouping, by hand ------------------------------------------------

def test_pack_and_hamming():
    bits = torch.tensor([[1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    assert pack(bits).tolist() == [[0b10000001, 0b11000000]]
    assert hamming(codes(0b1111, 0), codes(0b0111, 0b1000_0001)).tolist() == [[1, 4], [3, 2]]


def test_bucket_ids_number_identical_rows_by_first_sight():
    assert bucket_ids(codes(7, 3, 7, 9, 3)).tolist() == [0, 1, 0, 2, 1]


def test_radius_groups_by_leader_not_by_chain():
    # a=0000_0000, b one bit from a, c one bit from b but two from a; d far from all.
    ids = group_ids(codes(0b0000_0000, 0b0000_0001, 0b0000_0011, 0b1111_0000), radius=1)
    assert ids.tolist() == [0, 0, 1, 2]  # c is not pulled in through b
    assert group_ids(codes(0, 1, 3, 0b1111_0000), radius=2).tolist() == [0, 0, 0, 1]


def test_radius_finds_pairs_that_differ_in_every_chunk_but_one():
    # r=2 splits 8 bits into 3 chunks (3, 3, 2 bits); these differ in chunks 1 and 2.
    a, b = 0b0000_0000, 0b1001_0000
    assert group_ids(codes(a, b), radius=2).tolist() == [0, 0]
    assert group_ids(codes(a, b), radius=1).tolist() == [0, 1]


def test_pair_scores_by_hand():
    # predicted pairs (0,1), (0,2), (1,2); true pairs (0,1), (2,3): one shared.
    p, r, tp = pair_scores(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]))
    assert (p, r, tp) == (pytest.approx(1 / 3), 0.5, 1)


def test_duplicate_groups_and_kept_mask():
    groups = duplicate_groups(np.array([0, 1, 0, 2, 1, 0, 3]))
    assert [g.tolist() for g in groups] == [[0, 2, 5], [1, 4]]
    assert kept_mask(7, groups).tolist() == [True, True, False, True, False, False, True]


def test_dhash_by_hand():
    ramp = torch.arange(9, dtype=torch.uint8).mul(20).expand(1, 1, 8, 9)  # brighter to the right
    assert dhash_codes(ramp).tolist() == [[255] * 8]
    assert dhash_codes(ramp.flip(-1)).tolist() == [[0] * 8]


def test_exact_pixel_codes_see_one_grey_level():
    x = torch.zeros(3, 1, 4, 4, dtype=torch.uint8)
    x[2, 0, 1, 1] = 1
    c = exact_pixel_codes(x)
    assert (c[0] == c[1]).all() and not (c[0] == c[2]).all()


# --- planted perturbations -------------------------------------------------------------

def test_perturbations():
    img = torch.arange(16, dtype=torch.uint8).view(1, 4, 4).mul(10)
    assert shift(img, 0, 1)[0].tolist()[0] == [0, 0, 10, 20]
    assert shift(img, -1, 0)[0, :3].tolist() == img[0, 1:].tolist()
    grey = torch.tensor([[[0, 20, 40, 100, 250]]], dtype=torch.uint8)
    assert scale(grey, 1.05)[0, 0].tolist() == [0, 21, 42, 105, 255]  # clipped at 255
    big = torch.randint(0, 256, (3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    assert jpeg(big).shape == big.shape and not torch.equal(jpeg(big), big)
    p = plant(torch.zeros(50, 1, 8, 8, dtype=torch.uint8), per_kind=3, seed=0)
    assert len(p.images) == 65 and p.n_original == 50 and len(set(p.source)) == 15
    assert p.kinds.tolist() == [k for k in KINDS for _ in range(3)]


# --- the autoencoder's hash ------------------------------------------------------------

def test_bits_are_the_code_thresholded_and_do_not_depend_on_the_batch():
    torch.manual_seed(0)
    ae = HashAutoencoder(AutoencoderConfig(32, 3)).eval()
    x = torch.rand(1000, 3, 32, 32) * 2 - 1
    bits = ae.bits(x)
    assert bits.shape == (1000, 128) and torch.equal(bits, torch.relu(ae.preactivation(x)) > 0)
    assert all(torch.equal(ae.bits(x[i:i + 1])[0], bits[i]) for i in range(0, 1000, 97))
    assert AutoencoderConfig(32, 1).n_in == 1024 and ae.encoder.weight.shape == (128, 3072)


def digits_with_plants(n_far: int = 12, n_copies: int = 40) -> tuple[ArraySource, np.ndarray]:
    """Digits at 32 px, then ``n_copies`` exact copies (hashed in another batch than
    their originals), then ``n_far`` random black/white patterns, far from everything."""
    digits = load_dataset("digits", split="all", size=32).images  # (1797, 1, 32, 32)
    g = torch.Generator().manual_seed(1)
    originals = torch.randperm(1000, generator=g)[:n_copies]
    far = (torch.rand(n_far, 1, 32, 32, generator=g) > 0.5).to(torch.uint8) * 255
    x = torch.cat([digits, digits[originals], far])
    return ArraySource(x, None, "digits + plants"), originals.numpy()


@pytest.fixture(scope="module")
def planted_run():
    source, originals = digits_with_plants()
    ae, result = dedup(source, DedupSettings(steps=300, seed=0))
    return source, originals, ae, result


def test_planted_exact_duplicates_are_always_found(planted_run):
    source, originals, _, result = planted_run
    copies = np.arange(1797, 1797 + len(originals))
    assert (result.ids[copies] == result.ids[originals]).all()
    for r in (1, 3):  # a radius may add members, never split exact copies
        ids = group_ids(result.codes, r)
        assert (ids[copies] == ids[originals]).all()


def test_distinct_images_planted_far_apart_are_not_grouped(planted_run):
    source, _, _, result = planted_run
    far = np.arange(len(source) - 12, len(source))
    for ids in (result.ids, group_ids(result.codes, 2)):
        counts = np.bincount(ids)
        assert (counts[ids[far]] == 1).all()  # alone: neither with each other nor a digit


def test_dedup_is_deterministic_under_a_seed(planted_run):
    source, _, ae, result = planted_run
    ae2, again = dedup(source, DedupSettings(steps=300, seed=0))
    assert np.array_equal(again.codes, result.codes) and np.array_equal(again.ids, result.ids)
    assert all(torch.equal(a, b) for a, b in zip(ae.state_dict().values(), ae2.state_dict().values()))
    _, other = dedup(source, DedupSettings(steps=300, seed=1))
    assert not np.array_equal(other.codes, result.codes)


def test_streamed_folder_hashes_like_memory(tmp_path, planted_run):
    from dfmgan.data.folder import load_folder

    _, _, ae, _ = planted_run
    x = load_dataset("digits", split="all", size=32).images[:30]
    for i, img in enumerate(x.numpy()):
        Image.fromarray(img[0]).save(tmp_path / f"{i:03d}.png")
    streamed = load_folder(tmp_path, "train", 32, 1, memory_bytes=0)
    assert type(streamed).__name__ == "FolderStream"
    assert np.array_equal(hash_source(ae, streamed, batch=7)[0],
                          hash_source(ae, ArraySource(x, None, ""))[0])


class Flaky:
    """``source`` that fails on its ``fail_at``-th batch (a crash mid-pass) and records
    which indices it was asked for."""

    def __init__(self, source, fail_at: int | None = None):
        self.source, self.fail_at, self.asked = source, fail_at, []
        self.shape = source.shape

    def __len__(self) -> int:
        return len(self.source)

    def get(self, idx):
        if self.fail_at is not None and len(self.asked) == self.fail_at:
            raise RuntimeError("killed")
        self.asked.append(idx)
        return self.source.get(idx)


def test_a_killed_hashing_pass_resumes_where_it_was_marked(tmp_path, planted_run):
    source, _, ae, result = planted_run
    with pytest.raises(RuntimeError, match="killed"):
        hash_source(ae, Flaky(source, fail_at=3), batch=256, resume=tmp_path, save_every=0)
    marker = json.loads((tmp_path / "hashes.partial.json").read_text())
    assert marker == {"done": 768, "shape": [len(source), 16]}  # 3 batches of 256 made it
    again = Flaky(source)
    codes, _ = hash_source(ae, again, batch=256, resume=tmp_path)
    assert int(again.asked[0][0]) == 768  # nothing before the mark is read again
    assert np.array_equal(codes, result.codes)


def test_settings_are_checked():
    from dfmgan.errors import ConfigError

    for bad in ({"radius": -1}, {"radius": 128}, {"steps": 0}, {"noise": -0.1}):
        with pytest.raises(ConfigError):
            DedupSettings(**bad)
    with pytest.raises(ConfigError):
        AutoencoderConfig(32, 1, dropout=1.0)
    assert DedupSettings(radius=127).radius == 127


# --- the command line ------------------------------------------------------------------

def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_cli_writes_every_file_it_promises(tmp_path):
    out, copy = tmp_path / "report", tmp_path / "copy"
    # digits has no exact duplicates; a wide radius makes groups to check the files with
    r = run_cli("dedup", "digits", "--out", str(out), "--steps", "50", "--radius", "10",
                "--index", "--copy", str(copy))
    assert r.returncode == 0, r.stderr
    head = json.loads((out / "groups.json").read_text())
    n, groups = head["images"], head["groups"]
    assert n == 1437 and head["groups_found"] == len(groups) > 0
    assert head["images_removed"] == sum(g["size"] - 1 for g in groups)
    rows = read_csv(out / "groups.csv")
    assert len(rows) == sum(g["size"] for g in groups)
    assert [r["member"] for r in rows if r["kept"] == "1"] == [g["keep"] for g in groups]
    hashes = np.load(out / "hashes.npy", allow_pickle=False)
    assert hashes.shape == (n, 16) and hashes.dtype == np.uint8
    assert rows[0]["hash"] == hashes[int(rows[0]["member"])].tobytes().hex()
    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.width > 64 and sheet.height > 64
    kept = (out / "kept.txt").read_text().split()
    dropped = {m for g in groups for m in g["members"][1:]}
    assert len(kept) == n - len(dropped) and not dropped & set(kept)
    copied = sorted(copy.rglob("*.png"))
    assert f"copied {len(kept):,} kept images" in r.stdout
    assert len(copied) == len(kept) and {p.parent.name for p in copied} == {str(d) for d in range(10)}  # class names
    assert (out / "autoencoder.safetensors").is_file() and (out / "autoencoder.json").is_file()
    assert not (out / "hashes.partial.npy").exists() and not (out / "hashes.partial.json").exists()
    # A second run into the same folder reuses the autoencoder and hashes the same.
    r = run_cli("dedup", "digits", "--out", str(out), "--steps", "50", "--radius", "3")
    assert r.returncode == 0 and "reusing" in r.stdout, r.stderr
    assert np.array_equal(np.load(out / "hashes.npy"), hashes)
    assert json.loads((out / "groups.json").read_text())["radius"] == 3
    # As a run killed mid-hashing leaves it: rows before the mark are taken as they are
    # (here marked 0xFF to see that), the rest are hashed.
    partial = hashes.copy()
    partial[:500], partial[500:] = 0xFF, 0
    np.save(out / "hashes.partial.npy", partial)
    (out / "hashes.partial.json").write_text(json.dumps({"done": 500, "shape": [n, 16]}))
    r = run_cli("dedup", "digits", "--out", str(out), "--steps", "50")
    assert r.returncode == 0 and "reusing" in r.stdout, r.stderr
    resumed = np.load(out / "hashes.npy")
    assert (resumed[:500] == 0xFF).all() and np.array_equal(resumed[500:], hashes[500:])
    # Other training settings: a new network, and the old partial codes are dropped.
    np.save(out / "hashes.partial.npy", partial)
    (out / "hashes.partial.json").write_text(json.dumps({"done": 500, "shape": [n, 16]}))
    r = run_cli("dedup", "digits", "--out", str(out), "--steps", "60")
    assert r.returncode == 0 and "reusing" not in r.stdout, r.stderr
    assert not (np.load(out / "hashes.npy")[:500] == 0xFF).all(axis=1).any()


def test_cli_on_a_folder_reports_paths_and_copies_the_kept_files(tmp_path):
    data, out, copy = tmp_path / "photos", tmp_path / "report", tmp_path / "copy"
    x = load_dataset("digits", split="all").images[:20]  # (20, 1, 8, 8)
    for i, img in enumerate(x.numpy()):
        (data / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[0]).resize((40, 40)).convert("RGB").save(data / f"c{i % 2}" / f"{i:02d}.png")
    shutil.copy(data / "c0" / "04.png", data / "c1" / "dup_of_04.png")
    shutil.copy(data / "c1" / "07.png", data / "c0" / "z_dup_of_07.png")
    r = run_cli("dedup", str(data), "--out", str(out), "--steps", "100", "--copy", str(copy))
    assert r.returncode == 0, r.stderr
    groups = json.loads((out / "groups.json").read_text())["groups"]
    members = {tuple(sorted(g["members"])) for g in groups}
    assert ("c0/04.png", "c1/dup_of_04.png") in members
    assert ("c0/z_dup_of_07.png", "c1/07.png") in members
    files = sorted(str(p.relative_to(copy)) for p in copy.rglob("*.png"))
    assert len(files) == 22 - sum(g["size"] - 1 for g in groups)
    assert "c0/04.png" in files and "c1/dup_of_04.png" not in files
    # the first in path order is kept: c0/z_dup_of_07.png sorts before c1/07.png
    assert "c1/07.png" not in files
    assert (copy / "c0" / "z_dup_of_07.png").read_bytes() == (data / "c1" / "07.png").read_bytes()


@pytest.mark.parametrize("args,needle", [
    (["--radius", "-1"], "--radius"),
    (["--radius", "128"], "--radius"),
    (["--steps", "0"], "--steps"),
    (["--copy", "EXISTING"], "not empty"),
])
def test_cli_bad_input_leaves_earlier_report_untouched(tmp_path, args, needle):
    out = tmp_path / "report"
    out.mkdir()
    (out / "groups.json").write_text("earlier")
    (tmp_path / "EXISTING").mkdir()
    (tmp_path / "EXISTING" / "keep.png").write_bytes(b"x")
    args = [str(tmp_path / a) if a == "EXISTING" else a for a in args]
    r = run_cli("dedup", "digits", "--out", str(out), *args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert (out / "groups.json").read_text() == "earlier"


def test_cli_bad_data(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "broken.png").write_bytes(b"not a png")
    (tmp_path / "file").write_text("x")
    for args, needle in ((["nosuchdata"], "unknown dataset"),
                         ([str(tmp_path / "imgs")], "cannot decode"),
                         (["digits", "--out", str(tmp_path / "file")], "is a file")):
        if "--out" not in args:
            args = args + ["--out", str(tmp_path / "r")]
        r = run_cli("dedup", *args, "--steps", "5")
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert needle in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "file").read_text() == "x"


def test_cli_on_lsun_names_images_by_key(tmp_path):
    import lmdb
    from formats import write_lsun

    root = tmp_path / "bedroom_train_lmdb"
    write_lsun(root, n=12)
    env = lmdb.open(str(root), map_size=1 << 26)
    with env.begin(write=True) as txn:  # a second key holding image 3's bytes
        txn.put(b"f" * 40, txn.get(f"{3:040x}".encode()))
    env.close()
    out = tmp_path / "report"
    r = run_cli("dedup", "lsun", "--data-root", str(root), "--out", str(out), "--steps", "20", "--index")
    assert r.returncode == 0, r.stderr
    groups = json.loads((out / "groups.json").read_text())["groups"]
    assert [g["members"] for g in groups] == [[f"{3:040x}", "f" * 40]]
    kept = (out / "kept.txt").read_text().split()
    assert len(kept) == 12 and "f" * 40 not in kept
