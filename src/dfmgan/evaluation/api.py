"""``evaluate``: score a generator against real data with metrics by name, and append
the result, with its provenance, as one JSON line."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..data import ImageOptions, default_metrics, draw, load_dataset, match_channels, resize_uint8
from ..errors import DfmganError
from .features import Features, extract, feature_net_for
from .registry import Images, Labelled, LabelledSets, MetricOptions, by_need, get_metric
from .sources import (Reference, check_statistics, is_image_set, is_statistics, load_images,
                      load_statistics)

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
                seed: int, image=None) -> tuple[torch.Tensor, str]:
    """Up to ``n`` reference images drawn with ``seed`` (all of them when fewer), decoded
    with the image options ``image`` (fit, background) where the data are files."""
    source = load_dataset(data, root, split, size, channels, image)
    return draw(source, n, torch.Generator().manual_seed(seed)), source.description


def reference_for(reference, data, root, split, n: int, size: int, channels: int, seed: int,
                  net, image=None) -> Reference:
    """The real side: a statistics file, an image set, or ``n`` images of ``data``."""
    if reference is not None and is_statistics(Path(reference)):
        feats, meta = load_statistics(Path(reference))
        check_statistics(meta, net, size, channels, reference)
        return Reference(feats, None, {"reference": f"statistics {reference} ({meta.get('reference')})",
                                       "reference_split": meta.get("reference_split")})
    if reference is not None:
        images, described = load_images(Path(reference))
        if tuple(images.shape[1:]) != (channels, size, size):
            images = resize_uint8(match_channels(images, channels), size)
        return Reference(None, images[:n], {"reference": described, "reference_split": "file"})
    if data is None:
        raise DfmganError("which data to compare with? pass --data NAME or --ref PATH")
    images, described = real_images(data, root, split, n, size, channels, seed, image)
    return Reference(None, images, {"reference": described, "reference_split": split or "default"})


def append_jsonl(path: Path, row: dict) -> None:
    """One more line, written by rewriting the file atomically: a full disk names the file
    and leaves it as it was (an append cut short would leave a torn line, or an empty file)."""
    from ..files import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_bytes() if path.is_file() else b""
    if old and not old.endswith(b"\n"):
        old += b"\n"  # a torn last line stays its own line
    atomic_write(path, old + (json.dumps(row) + "\n").encode())


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


def feature_scores(gen, ref: Reference, metrics, net, opts, device, stage) -> tuple[dict, dict]:
    """(scores, provenance) of the feature metrics: both sets through the one feature
    net (the reference's features read from its statistics file where it has one), each
    metric on the same features."""
    stage(f"features of {len(gen):,} generated images")
    fg = extract(net, gen, device=device, progress=stage.shown, desc="features (generated)")
    fr = ref.features
    if fr is None:
        stage(f"features of {len(ref.images):,} real images")
        fr = extract(net, ref.images, device=device, progress=stage.shown, desc="features (real)")
    scores = {}
    for name in metrics:
        stage(f"metric {name}")
        scores.update(score(fg, fr, [name], opts))
    return scores, {**net.provenance(), "n_gen": len(gen), "n_real": len(fr.pool), **ref.provenance}


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


class Generated:
    """The side being judged: a generator (sampled here) or a set of images from a file."""

    def __init__(self, source, device, ema: bool):
        from ..snapshot import load_generator

        self.source, self.G, self.images = source, None, None
        if is_image_set(Path(source)):
            self.images, self.described = load_images(Path(source))
            self.meta = {}
            self.size, self.channels = self.images.shape[2], self.images.shape[1]
        else:
            self.G = load_generator(source, device=device, ema=ema)
            self.meta, self.size, self.channels = self.G.meta, self.G.cfg.size, self.G.cfg.channels

    def count(self, n: int) -> int:
        """How many images are judged: ``n``, or all of an image set when it has fewer."""
        return n if self.G is not None else min(n, len(self.images))

    def sample(self, n: int, seed: int, bn: str) -> torch.Tensor:
        return self.G.sample(n, seed=seed, mode=bn) if self.G is not None else self.images[:n]

    def provenance(self) -> dict:
        if self.G is None:
            return {"source": self.described}
        return {"source": str(self.source), "step": self.meta.get("step"),
                "ema": self.meta.get("ema", 0.0)}

    def image_options(self) -> ImageOptions | None:
        """How the run decoded its files (fit, background), for its reference images."""
        got = self.meta.get("image") or {}
        return ImageOptions(got.get("fit", ""), got.get("background", "white")) if got else None


def evaluate(source, metrics=None, data: str | None = None, data_root=None,
             split: str | None = None, n: int = 10_000, n_real: int | None = None, seed: int = 0,
             feature_net: str | None = None, bn: str = "batch", out: Path | None = None,
             opts: MetricOptions | None = None, device: str = "cpu",
             inception_weights=None, ema: bool = True, progress: bool = False,
             reference=None) -> dict:
    """Score ``source`` (a run folder or snapshot, sampled ``n`` times; or an image set:
    .npz, .npy, a folder) against ``reference`` (a statistics file or an image set) or
    ``data``; a run folder's EMA generator when it has one, unless ``ema`` is False. The
    row holds the scores at its top level and where they come from under ``provenance``."""
    gen_side = Generated(source, device, ema)
    data = data or gen_side.meta.get("data")
    if data is None and reference is None:
        raise DfmganError("which data to compare with? pass --data NAME or --ref PATH")
    metrics = metrics_for(data, metrics)
    n = gen_side.count(n)
    opts = opts or MetricOptions(seed=seed)
    kinds = by_need(metrics)
    by_features, by_images, labelled = kinds["features"], kinds["images"], kinds["labelled"]
    if labelled and gen_side.G is None:
        raise DfmganError(f"{', '.join(labelled)} judge a conditional generator, not a set of images")
    if by_images and data is None:
        raise DfmganError(f"{', '.join(by_images)} need the name of the data imitated: pass --data")
    if by_features:  # checked and read before any sampling: a bad net or root fails at once
        net = feature_net_for(data, feature_net, inception_weights)
        ref = reference_for(reference, data, data_root, split, n_real or n, gen_side.size,
                            gen_side.channels, seed, net, gen_side.image_options())
    stage = Stages(1 + len(metrics) + 2 * bool(by_features) + bool(labelled), progress)
    t0 = time.perf_counter()
    scores: dict = {}
    prov = gen_side.provenance()
    stage(f"sampling {n:,} images")
    gen = gen_side.sample(n, seed, bn) if by_features or by_images else None
    if by_images:
        scores.update(image_scores(gen, data, by_images, opts, stage))
        prov["n_gen"] = n
    if by_features:
        got, where = feature_scores(gen, ref, by_features, net, opts, device, stage)
        scores.update(got)
        prov.update(where)
    if labelled:
        stage("labelled sets")
        sets = labelled_sets(gen_side.G, data, data_root, n, seed)
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


def save_reference(ref: str, out: Path, size: int, channels: int, data_root=None,
                   split: str | None = None, n: int = 10_000, seed: int = 0,
                   feature_net: str | None = None, inception_weights=None, device: str = "cpu",
                   data: str | None = None, progress: bool = False) -> dict:
    """Features of a reference (a dataset name, or an image set: .npz, .npy, a folder) at
    ``size`` px and ``channels``, saved with their statistics and provenance to ``out``
    (``sources.save_statistics``); returns the provenance."""
    from .sources import save_statistics

    as_set = is_image_set(Path(ref))
    # an image set's net: --feature-net, else the one of the data it shows (``data``)
    net = feature_net_for(data if as_set else ref, feature_net, inception_weights)
    reference = reference_for(ref if as_set else None, None if as_set else ref, data_root,
                              split, n, size, channels, seed, net)
    feats = extract(net, reference.images, device=device, progress=progress,
                    desc="features (reference)")
    prov = {**net.provenance(), **reference.provenance, "data": None if as_set else ref,
            "size": size, "channels": channels, "n": len(feats.pool), "seed": seed}
    save_statistics(out, feats, prov)
    return prov
