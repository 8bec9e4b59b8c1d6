"""What D's features must beat: the ``probe`` metric's baselines (DCGAN §5.1–5.2), each
scored by the metric's own protocol (``evaluation.probe.scores``: the same fit pool, label
budgets, draws and test split), computed once per data set and cached.

- ``pixels``: the raw pixels.
- ``random-d``: D's architecture at random init, ``RANDOM_INITS`` inits (mean ± std over
  the inits of each init's mean over the draws).
- ``kmeans-dim``: single-layer K-means features (Coates & Ng, ``kmeans.py``) with 4K equal
  to D's pooled feature size (K = 896 for the width-32 D at 32 px).
- ``kmeans-best``: the K of ``KS`` (and D's) whose first draw scores best on its
  validation split at the largest budget; the chosen K is reported.
- ``supervised``: D's architecture trained on each labelled draw alone (``supervised.py``).

The cache: one JSON file per baseline under ``$DFMGAN_DATA/baselines/`` (see
``data.download.cache_home``), named by the SHA-256 of every fact its scores depend on:
the data's name and the SHA-256 of the fit pool and the test split (images and labels),
the protocol (budgets, draws, seed, this module's version) and the baseline's own settings
(D's architecture where it uses it, K). Changing any of them names another entry; a file
whose stored facts differ from those asked for, or that is not a whole entry, is rebuilt
and replaced, never trusted. Writes are atomic."""
from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..evaluation.linear_probe import pixels, pooled_features, probe_one, ridge_fitter
from ..evaluation.probe import BUDGETS, key as budget_key, scores
from ..evaluation.registry import Labelled, MetricOptions

VERSION = 1  # bump when a baseline's protocol changes what an entry would hold
RANDOM_INITS = 3
KS = (100, 400, 1600)
THIS_RUN = "D (this run)"  # the row of the run's own D in a baselines file  # besides D's own size; Coates & Ng's curve rises to K = 1,600


@dataclass
class Inputs:
    data: str
    pool: Labelled  # the probe's fit pool (labelled real training images)
    test: Labelled  # the real test split
    cfg: object  # D's NetConfig
    opts: MetricOptions


@dataclass(frozen=True)
class Baseline:
    meaning: str
    settings: Callable[[Inputs], dict]  # what its scores depend on beyond data and protocol
    run: Callable[[Inputs], dict]  # -> {"probe_<b>": acc, "probe_<b>_std": std, ...}


BASELINES: dict[str, Baseline] = {}


def baseline(name: str, meaning: str, settings: Callable[[Inputs], dict] = lambda i: {}):
    def add(fn):
        BASELINES[name] = Baseline(meaning, settings, fn)
        return fn
    return add


def d_facts(i: Inputs) -> dict:
    """D's architecture: the fields of its config that shape D."""
    c = i.cfg
    return {"size": c.size, "channels": c.channels, "d_width": c.d_width, "d_norm": c.d_norm}


def d_k(i: Inputs) -> int:
    """K whose 4K K-means features match D's pooled feature size."""
    from ..models import Discriminator

    return sum(w * 16 for w in widths(Discriminator(i.cfg))) // 4


def widths(D) -> list[int]:
    return [block[0].out_channels for block in D.blocks]


def on(features: Callable[[torch.Tensor], torch.Tensor], i: Inputs) -> dict:
    """The metric's protocol on one feature map: uint8 images (N, C, H, W) -> (N, F)."""
    return scores(features(i.pool.images), i.pool.labels, features(i.test.images),
                  i.test.labels, i.opts)


@baseline("pixels", "raw pixels")
def pixel_baseline(i: Inputs) -> dict:
    return on(pixels, i)


@baseline("random-d", f"D's architecture at random init ({RANDOM_INITS} inits)", d_facts)
def random_d(i: Inputs) -> dict:
    from ..models import Discriminator

    runs = []
    for n in range(RANDOM_INITS):
        torch.manual_seed(i.opts.seed + n)
        D = Discriminator(i.cfg)
        runs.append(on(lambda x: pooled_features(D, x), i))
    return {k: statistics.mean(r[k] for r in runs) if not k.endswith("_std") else
            statistics.stdev(r[k[:-4]] for r in runs) for k in runs[0]}


def kmeans_at(k: int, i: Inputs):
    from .kmeans import KMeansFeatures

    return KMeansFeatures.fit(i.pool.images, k, seed=i.opts.seed).encode


@baseline("kmeans-dim", "single-layer K-means (Coates & Ng) with 4K = D's pooled feature size",
          lambda i: {"k": d_k(i)})
def kmeans_dim(i: Inputs) -> dict:
    return {**on(kmeans_at(d_k(i), i), i), "k": d_k(i)}


@baseline("kmeans-best", "single-layer K-means at the K of 100, 400, 1,600 and D's size "
          "that scores best on validation", lambda i: {"ks": sorted({*KS, d_k(i)})})
def kmeans_best(i: Inputs) -> dict:
    budget, val = largest(i.opts.probe_budgets), {}
    for k in sorted({*KS, d_k(i)}):
        enc = kmeans_at(k, i)
        fx = enc(i.pool.images)
        fit = probe_one(fx, i.pool.labels, fx[:1], i.pool.labels[:1], budget, 1, i.opts.seed,
                        fit=ridge_fitter())[0]
        val[k] = (fit.val_accuracy if not math.isnan(fit.val_accuracy) else 0.0, enc, fx)
    k = max(val, key=lambda k: (val[k][0], -k))  # ties: the smaller K
    _, enc, fx = val[k]  # the pool's features are made once per K
    return {**scores(fx, i.pool.labels, enc(i.test.images), i.test.labels, i.opts), "k": k}


def supervised_facts(i: Inputs) -> dict:
    from .supervised import settings

    return {**d_facts(i), **settings()}


@baseline("supervised", "D's architecture trained on each labelled draw alone "
          "(random search on validation)", supervised_facts)
def supervised(i: Inputs) -> dict:
    from .supervised import supervised_scores

    return supervised_scores(i.pool, i.test, i.cfg, i.opts)


def largest(budgets) -> int | None:
    """The budget with the most labels (None, every label, beats any count)."""
    return None if None in budgets else max(budgets)


def digest(s: Labelled) -> str:
    h = hashlib.sha256(s.images.contiguous().numpy().tobytes())
    h.update(s.labels.to(torch.int64).contiguous().numpy().tobytes())
    return h.hexdigest()


def facts(name: str, i: Inputs) -> dict:
    o = i.opts
    return {"version": VERSION, "baseline": name, "data": i.data, "pool": digest(i.pool),
            "test": digest(i.test), "budgets": list(o.probe_budgets), "draws": o.probe_draws,
            "seed": o.seed, "settings": BASELINES[name].settings(i)}


def entry_path(name: str, key: dict) -> Path:
    from ..data.download import cache_home

    sha = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return cache_home() / "baselines" / f"{name}-{sha[:16]}.json"


def read_entry(path: Path, key: dict, budgets) -> dict | None:
    """The scores of a whole entry made for ``key``, else None (to be rebuilt)."""
    from ..reading import parse_json

    try:
        entry = parse_json(path.read_text())
        s = entry["scores"]
        whole = entry["key"] == key and all(
            isinstance(s[budget_key(b) + x], float) and 0 <= s[budget_key(b) + x] <= 1
            for b in budgets for x in ("", "_std"))
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    return s if whole else None


def baseline_scores(name: str, i: Inputs) -> tuple[dict, bool]:
    """(scores, whether they came from the cache) for one baseline."""
    from ..files import atomic_write

    key = facts(name, i)
    path = entry_path(name, key)
    hit = read_entry(path, key, i.opts.probe_budgets)
    if hit is not None:
        return hit, True
    t0 = time.perf_counter()
    s = BASELINES[name].run(i)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({"key": key, "scores": s, "seconds": time.perf_counter() - t0},
                                  indent=1).encode())
    return s, False


def parse_names(text: str) -> list[str]:
    from ..errors import DfmganError

    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in BASELINES]
    if bad or not names:
        raise DfmganError(f"--baselines: unknown baseline {bad[0] if bad else text!r}; choose "
                          f"from {', '.join(BASELINES)}")
    return names


def pool_of(run, meta: dict, n: int | None, seed: int | None) -> tuple[int, int]:
    """(n, seed) of the fit pool the run's own training evaluator drew: its eval_n and seed
    (``during.TrainingEvaluator`` draws with seed + 3), unless given."""
    from ..reading import parse_json
    from ..layout import RunLayout

    cfg_path = RunLayout(run).config_path if Path(run).is_dir() else None
    cfg = parse_json(cfg_path.read_text()) if cfg_path and cfg_path.is_file() else {}
    return (n or int(cfg.get("eval_n") or 5000),
            seed if seed is not None else int(meta.get("seed") or 0))


def run_baselines(source, names: list[str], data, root, n, seed, device, out,
                  progress: bool = True, budgets=BUDGETS) -> list[dict]:
    """``dfmgan baselines``: the run's D and each baseline by the probe metric's protocol,
    on the run's own fit pool (``n`` = "all": the whole training split) at ``budgets``
    labels per class (None: all of the pool); rows written as JSON to ``out``."""
    from tqdm import tqdm

    from ..data import draw_labelled, load_dataset
    from ..data.recorded import recorded_data
    from ..evaluation.api import test_split
    from ..files import write_record
    from ..snapshot import load_discriminator

    D, meta = load_discriminator(source, device)
    data, root, image = recorded_data(source, data, root, meta=meta)  # the run's own files
    n, seed = pool_of(source, meta, n, seed)
    train = load_dataset(data, root, None, D.cfg.size, D.cfg.channels, image)
    n = len(train) if n == "all" else n
    images, labels = draw_labelled(train, n, torch.Generator().manual_seed(seed + 3))
    test = test_split(data, root, D.cfg.size, D.cfg.channels, image)
    if labels is None or test.labels is None:
        from ..errors import DfmganError
        raise DfmganError(f"the baselines need labelled data; {data!r} has no labels")
    i = Inputs(data, Labelled(images, labels), test, D.cfg,
               MetricOptions(probe_budgets=tuple(budgets)))
    rows = [{"features": THIS_RUN, "cached": False,
             **on(lambda x: pooled_features(D, x, device=device), i)}]
    for name in tqdm(names, desc="baselines", disable=not progress):
        s, hit = baseline_scores(name, i)
        rows.append({"features": name, "cached": hit, **s})
    record = {"source": str(source), "step": meta.get("step"), "data": data, "pool_n": n,
              "pool_seed": seed + 3, "rows": rows}
    write_record(Path(out), record)
    return rows


def table(rows: list[dict], budgets=BUDGETS) -> str:
    head = "| features | " + " | ".join(f"{b}/class" if b else "all labels"
                                        for b in budgets) + " | cached |"
    lines = [head, "|---|" + "---:|" * len(budgets) + "---|"]
    for r in rows:
        k = f" (K={r['k']})" if "k" in r else ""
        cells = " | ".join(f"{100 * r[budget_key(b)]:.2f}% ± {100 * r[budget_key(b) + '_std']:.2f}"
                           for b in budgets)
        lines.append(f"| {r['features']}{k} | {cells} | {'yes' if r['cached'] else 'no'} |")
    return "\n".join(lines)
