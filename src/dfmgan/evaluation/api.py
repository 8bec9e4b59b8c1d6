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


def feature_scores(gen, real, described, metrics, split, net, opts, device,
                   stage) -> tuple[dict, dict]:
    """(scores, provenance) of the feature metrics: both sets through the one feature
    net, each metric on the same features."""
    stage(f"features of {len(gen):,} generated images")
    fg = extract(net, gen, device=device, progress=stage.shown, desc="features (generated)")
    stage(f"features of {len(real):,} real images")
    fr = extract(net, real, device=device, progress=stage.shown, desc="features (real)")
    scores = {}
    for name in metrics:
        stage(f"metric {name}")
        scores.update(score(fg, fr, [name], opts))
    return scores, {**net.provenance(), "n_gen": len(gen), "n_real": len(real),
                    "reference": described, "reference_split": split or "default"}


def image_scores(gen: torch.Tensor, data: str, metrics, opts: MetricOptions, stage) -> dict:
    out: dict = {}
    for name in metrics:
        stage(f"metric {name}")
        out.update(get_metric(name)(Images(gen, data), opts))
    return out


class Stages:
    """One progress bar over an evaluation's stages, naming the one at work (stderr)."""

    def __init__(self, total: int, shown: bool):
        from tqdm import tqdm

        self.shown = shown
        self.bar = tqdm(total=total, desc="eval", unit="stage", leave=False,
                        disable=True if not shown else None)  # None: only on a terminal
        self.started = False

    def __call__(self, what: str) -> None:
        if self.started:
            self.bar.update()
        self.started = True
        self.bar.set_postfix_str(what)

    def close(self) -> None:
        self.bar.update()
        self.bar.close()


def evaluate(source, metrics=None, data: str | None = None, data_root=None,
             split: str | None = None, n: int = 10_000, n_real: int | None = None, seed: int = 0,
             feature_net: str | None = None, bn: str = "batch", out: Path | None = None,
             opts: MetricOptions | None = None, device: str = "cpu",
             inception_weights=None, ema: bool = True, progress: bool = False) -> dict:
    """Score the generator at ``source`` (run folder or snapshot) on ``n`` samples; a run
    folder's EMA generator when it has one, unless ``ema`` is False. The row holds the
    scores at its top level and where they come from under ``provenance``."""
    from ..snapshot import load_generator

    G = load_generator(source, device=device, ema=ema)
    data = data or G.meta.get("data")
    if data is None:
        raise DfmganError("which dataset to compare with? pass --data")
    metrics = metrics_for(data, metrics)
    opts = opts or MetricOptions(seed=seed)
    kinds = by_need(metrics)
    by_features, by_images, labelled = kinds["features"], kinds["images"], kinds["labelled"]
    if by_features:  # checked and read before any sampling: a bad net or root fails at once
        net = feature_net_for(data, feature_net, inception_weights)
        real, described = real_images(data, data_root, split, n_real or n, G.cfg.size,
                                      G.cfg.channels, seed)
    stage = Stages(1 + len(metrics) + 2 * bool(by_features) + bool(labelled), progress)
    t0 = time.perf_counter()
    scores: dict = {}
    prov = {"source": str(source), "step": G.meta.get("step"), "ema": G.meta.get("ema", 0.0)}
    stage(f"sampling {n:,} images")
    gen = G.sample(n, seed=seed, mode=bn) if by_features or by_images else None
    if by_images:
        scores.update(image_scores(gen, data, by_images, opts, stage))
        prov["n_gen"] = n
    if by_features:
        got, where = feature_scores(gen, real, described, by_features, split, net, opts,
                                    device, stage)
        scores.update(got)
        prov.update(where)
    if labelled:
        stage("labelled sets")
        sets = labelled_sets(G, data, data_root, n, seed)
        for name in labelled:
            stage(f"metric {name}")
            scores.update(get_metric(name)(sets, opts))
        prov.update({"n_gen": n, "n_test": len(sets.test.labels), "labelled_reference": "test"})
    stage.close()
    prov.update({"metrics": list(metrics), "seed": seed, "bn": bn, "splits": opts.splits,
                 "seconds": round(time.perf_counter() - t0, 2)})
    row = {**scores, "provenance": prov}
    if out is not None:
        append_jsonl(Path(out), row)
    return row
