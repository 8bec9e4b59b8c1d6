"""``evaluate``: score a generator against real data with metrics by name, and append
the result, with its provenance, as one JSON line."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..data import default_metrics, draw, load_dataset
from ..errors import DfmganError
from .features import Features, extract, feature_net_for
from .registry import Images, Labelled, LabelledSets, MetricOptions, by_need, get_metric

DEFAULT_METRICS = ("fid", "kid", "pr", "is", "coverage")


def metrics_for(data: str | None, asked=None) -> tuple[str, ...]:
    """The metrics asked for, else the dataset's own, else the standard set."""
    return tuple(asked or default_metrics(data) or DEFAULT_METRICS)


def score(gen: Features, real: Features, metrics, opts: MetricOptions) -> dict:
    out: dict = {}
    for name in metrics:
        fn = get_metric(name)
        if name in ("is", "coverage") and gen.logits is None:
            raise DfmganError(f"metric {name!r} needs a feature network with class logits")
        out.update(fn(gen, real, opts))
    return out


def real_images(data: str, root, split: str | None, n: int, size: int, channels: int,
                seed: int) -> tuple[torch.Tensor, str]:
    """Up to ``n`` reference images drawn with ``seed`` (all of them when fewer)."""
    source = load_dataset(data, root, split, size, channels)
    return draw(source, n, torch.Generator().manual_seed(seed)), source.description


def append_jsonl(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("a") as f:
        f.write(json.dumps(row) + "\n")


def labelled_sets(G, data: str, root, n: int, seed: int) -> LabelledSets:
    """n generated images cycling through G's classes, n real training images, the test split."""
    if not G.cfg.n_classes:
        raise DfmganError("labelled metrics (nn-error, cas) need a conditional generator "
                          "(train with --classes N)")
    size, ch = G.cfg.size, G.cfg.channels
    train = load_dataset(data, root, None, size, ch)
    test = load_dataset(data, root, "test", size, ch)
    if train.labels is None or test.labels is None:
        raise DfmganError(f"labelled metrics need labels; {data} has none")
    labels = torch.arange(n) % G.cfg.n_classes
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(train), generator=g)[:n]
    images, real_labels = train.get(pick)
    return LabelledSets(Labelled(G.sample(n, seed=seed, labels=labels), labels),
                        Labelled(images.cpu(), real_labels.cpu()),
                        Labelled(test.images.cpu(), test.labels.cpu()))


def feature_scores(gen, G, metrics, data, data_root, split, n_real, seed, net, opts,
                   device) -> dict:
    real, described = real_images(data, data_root, split, n_real or len(gen), G.cfg.size,
                                  G.cfg.channels, seed)
    results = score(extract(net, gen, device=device), extract(net, real, device=device),
                    metrics, opts)
    return {**results, **net.provenance(), "n_gen": len(gen), "n_real": len(real),
            "reference": described, "reference_split": split or "default"}


def image_scores(gen: torch.Tensor, data: str, metrics, opts: MetricOptions) -> dict:
    out: dict = {}
    for name in metrics:
        out.update(get_metric(name)(Images(gen, data), opts))
    return out


def evaluate(source, metrics=None, data: str | None = None, data_root=None,
             split: str | None = None, n: int = 10_000, n_real: int | None = None, seed: int = 0,
             feature_net: str | None = None, bn: str = "batch", out: Path | None = None,
             opts: MetricOptions | None = None, device: str = "cpu",
             inception_weights=None, ema: bool = True) -> dict:
    """Score the generator at ``source`` (run folder or snapshot) on ``n`` samples; a run
    folder's EMA generator when it has one, unless ``ema`` is False."""
    from ..snapshot import load_generator

    G = load_generator(source, device=device, ema=ema)
    data = data or G.meta.get("data")
    if data is None:
        raise DfmganError("which dataset to compare with? pass --data")
    metrics = metrics_for(data, metrics)
    opts = opts or MetricOptions(seed=seed)
    kinds = by_need(metrics)
    by_features, by_images, labelled = kinds["features"], kinds["images"], kinds["labelled"]
    t0 = time.perf_counter()
    row = {"source": str(source), "step": G.meta.get("step"), "ema": G.meta.get("ema", 0.0)}
    gen = G.sample(n, seed=seed, mode=bn) if by_features or by_images else None
    if by_images:
        row.update(image_scores(gen, data, by_images, opts))
        row.update({"n_gen": n})
    if by_features:
        net = feature_net_for(data, feature_net, inception_weights)
        row.update(feature_scores(gen, G, by_features, data, data_root, split, n_real, seed,
                                  net, opts, device))
    if labelled:
        sets = labelled_sets(G, data, data_root, n, seed)
        for name in labelled:
            row.update(get_metric(name)(sets, opts))
        row.update({"n_gen": n, "n_test": len(sets.test.labels), "labelled_reference": "test"})
    row.update({"metrics": list(metrics), "seed": seed, "bn": bn, "splits": opts.splits,
                "seconds": round(time.perf_counter() - t0, 2)})
    if out is not None:
        append_jsonl(Path(out), row)
    return row
