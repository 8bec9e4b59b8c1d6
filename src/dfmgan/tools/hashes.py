"""Binary hash codes and grouping by them, in time linear in the number of images.

Codes are packed bit rows, (N, bytes) uint8. ``bucket_ids`` puts identical rows in one
bucket through a dict (one pass, no sort). ``group_ids`` also joins codes within a
Hamming radius r by multi-index hashing (Norouzi et al., CVPR 2012): split the bits
into r + 1 chunks; two codes within distance r agree exactly on at least one chunk
(pigeonhole), so only codes that share a chunk bucket are compared.

The baselines the benchmark compares against live here too: an exact-pixel hash and
the difference hash (dHash, Krawetz 2013)."""
from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F

from ..data.transforms import match_channels

POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def pack(bits: torch.Tensor) -> np.ndarray:
    """(N, B) bool -> (N, ceil(B/8)) uint8, most significant bit first."""
    return np.packbits(bits.cpu().numpy().astype(np.uint8), axis=1)


def to_hex(row: np.ndarray) -> str:
    return row.tobytes().hex()


def bucket_ids(codes: np.ndarray) -> np.ndarray:
    """(N, bytes) uint8 -> (N,) int64: the bucket of each row, numbered by first sight."""
    seen: dict[bytes, int] = {}
    rows = np.ascontiguousarray(codes).view(f"V{codes.shape[1]}").ravel()
    return np.fromiter((seen.setdefault(r, len(seen)) for r in rows.tolist()),
                       dtype=np.int64, count=len(rows))


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, bytes) x (m, bytes) uint8 -> (n, m) bit distances."""
    return POPCOUNT[a[:, None, :] ^ b[None, :, :]].sum(-1, dtype=np.int32)


def chunks(n_bits: int, radius: int) -> list[np.ndarray]:
    """r + 1 disjoint bit index sets covering all bits, as equal as possible."""
    return np.array_split(np.arange(n_bits), radius + 1)


def _near_pairs(codes: np.ndarray, members: np.ndarray, radius: int,
                block: int = 256) -> list[np.ndarray]:
    """(k, 2) index pairs among ``members`` within ``radius``; blocks bound memory."""
    out = []
    sub = codes[members]
    for s in range(0, len(members), block):
        d = hamming(sub[s:s + block], sub)  # (block, m)
        i, j = np.nonzero(d <= radius)
        keep = j > i + s  # each unordered pair once
        out.append(np.stack([members[i[keep] + s], members[j[keep]]], 1))
    return out


def radius_edges(codes: np.ndarray, radius: int) -> np.ndarray:
    """(E, 2) pairs of rows whose codes are within ``radius`` bits (some repeated)."""
    bits = np.unpackbits(codes, axis=1)
    found = [np.zeros((0, 2), np.int64)]
    for idx in chunks(bits.shape[1], radius):
        ids = bucket_ids(np.packbits(bits[:, idx], axis=1))
        order = np.argsort(ids, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(ids[order]) != 0, True])
        for a, b in zip(starts[:-1], starts[1:]):
            if b - a > 1:
                found += _near_pairs(codes, order[a:b], radius)
    return np.concatenate(found)


def group_ids(codes: np.ndarray, radius: int = 0) -> np.ndarray:
    """(N,) group of each row: identical codes share a group; with ``radius`` > 0 a group
    also takes every code within ``radius`` bits of its leader, the earliest code in it.

    Leaders, not connected components: chains of small steps (a ~ b ~ c ...) would
    otherwise join images that are far apart. Every grouped code is within ``radius``
    of the kept one."""
    ids = bucket_ids(codes)
    if radius <= 0:
        return ids
    from scipy.sparse import coo_matrix

    firsts = np.unique(ids, return_index=True)[1]  # a row per bucket, in bucket order
    e = radius_edges(codes[firsts], radius)
    n = len(firsts)
    near = coo_matrix((np.ones(len(e), bool), (e[:, 0], e[:, 1])), shape=(n, n))
    near = (near + near.T).tocsr()  # symmetric: b's neighbours are one row
    return leaders(near, n)[ids]


def leaders(near, n: int) -> np.ndarray:
    """(n,) leader of each node: in order, an unassigned node leads its unassigned
    neighbours (``near``: a symmetric CSR matrix)."""
    lead = np.full(n, -1, np.int64)
    for b in np.flatnonzero(np.diff(near.indptr)):  # nodes alone lead themselves (below)
        if lead[b] < 0:
            lead[b] = b
            nb = near.indices[near.indptr[b]:near.indptr[b + 1]]
            lead[nb[lead[nb] < 0]] = b
    alone = lead < 0
    lead[alone] = np.flatnonzero(alone)
    return renumber(lead)


def renumber(ids: np.ndarray) -> np.ndarray:
    """Group numbers in order of first appearance, so results do not depend on labels."""
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse]


def exact_pixel_codes(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, 16) uint8: BLAKE2b of the raw pixels and shape."""
    shape = str(tuple(images.shape[1:])).encode()
    return np.stack([np.frombuffer(hashlib.blake2b(shape + img.numpy().tobytes(),
                                                   digest_size=16).digest(), np.uint8)
                     for img in images])


def dhash_codes(images: torch.Tensor, side: int = 8) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, side²/8) uint8: the difference hash.

    Grey, shrunk (antialiased) to side × (side + 1), one bit per horizontal
    neighbour pair: is the left pixel darker than the right one?"""
    x = match_channels(images, 1).float()  # grey as PIL's "L", which dHash uses
    small = F.interpolate(x, size=(side, side + 1), mode="bilinear", antialias=True,
                          align_corners=False)[:, 0]  # (N, side, side + 1)
    return pack((small[:, :, 1:] > small[:, :, :-1]).flatten(1))


def pair_counts(ids: np.ndarray) -> int:
    """Σ C(size, 2) over groups: the number of same-group pairs."""
    c = np.bincount(ids).astype(np.int64)
    return int((c * (c - 1) // 2).sum())


def pair_scores(pred: np.ndarray, true: np.ndarray) -> tuple[float, float, int]:
    """(precision, recall, true pairs found) of the pairs a grouping puts together.

    ``pred`` and ``true`` are (N,) group ids; the pairs are counted through the
    contingency of the two groupings, so no pair list is ever built."""
    both = renumber(pred.astype(np.int64) * (int(true.max()) + 1) + true)
    tp = pair_counts(both)
    p, t = pair_counts(pred), pair_counts(true)
    return (tp / p if p else 1.0), (tp / t if t else 1.0), tp
