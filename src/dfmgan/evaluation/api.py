"""``evaluate``: score a generator against real data with metrics by name, and append
the result, with its provenance, as one JSON line."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..data import default_metrics, draw_labelled, load_dataset, match_channels, resize_uint8
from ..data.recorded import recorded_data
from ..errors import DfmganError
from .features import Features, extract, feature_net_for
from .inputs import INPUTS, Available, can_give, check_needs
from .inputs import judged as make_judged
from .registry import (Judged, Labelled, LabelledSets, Metric, MetricOptions,
                       get_metric, standard)
from .sources import (Reference, check_statistics, is_image_set, is_statistics, load_images,
                      load_statistics)

def check_size(size: int | None) -> int | None:
    """``--size``: a side of 4 to 1,024 px, or None (the judged images' own)."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 4 <= size <= 1024):
        raise DfmganError(f"--size must be 4 to 1024 pixels, got {size!r}")
    return size


def metrics_for(data: str | None, asked=None) -> tuple[str, ...]:
    """The metrics asked for, else the dataset's own, else the standard set."""
    return tuple(asked or default_metrics(data) or standard())


def records(names) -> list[Metric]:
    return [get_metric(n) for n in names]


def needed(metrics: list[Metric]) -> set[str]:
    return {n for m in metrics for n in m.needs}


def run_metrics(j: Judged, metrics: list[Metric], opts: MetricOptions, stage=None) -> dict:
    """Every metric on the one ``Judged``, in the order given."""
    out: dict = {}
    for m in metrics:
        if stage is not None:
            stage(f"metric {m.name}")
        out.update(m.fn(j, opts))
    return out


def defaults_given(chosen: list[Metric], have: set[str]) -> list[Metric]:
    """The default metrics this evaluation can compute; one line on stderr names those it
    leaves out and what they need (the standard network without a classifier: no IS)."""
    import sys

    kept = [m for m in chosen if set(m.needs) <= have]
    left = [m for m in chosen if m not in kept]
    if left and kept:
        need = sorted({n for m in left for n in m.needs if n not in have})
        print(f"dfmgan: left out {', '.join(m.name for m in left)}: they need "
              f"{' and '.join(INPUTS[n].meaning for n in need)} ({INPUTS[need[0]].how})",
              file=sys.stderr)
    return kept or chosen  # nothing computable: check_needs names the first gap


def score(gen: Features, real: Features, metrics, opts: MetricOptions) -> dict:
    """Feature metrics by name on features already extracted (a library shortcut)."""
    chosen = records(metrics)
    check_needs(chosen, {"features"} | ({"logits"} if gen.logits is not None else set()))
    return run_metrics(Judged(gen=lambda: gen, real=lambda: real), chosen, opts)


def real_images(data: str, root, split: str | None, n: int, size: int, channels: int,
                seed: int, image=None):
    """(images, labels or None, description) of up to ``n`` reference images drawn with
    ``seed`` (all of them when fewer), decoded with the image options ``image`` (fit,
    background) where the data are files."""
    source = load_dataset(data, root, split, size, channels, image)
    images, labels = draw_labelled(source, n, torch.Generator().manual_seed(seed))
    return images, labels, source.description


PIXELS = {"reference_images", "reference_labels"}  # needs that read the reference's pixels


def reference_for(reference, data, root, split, n: int, size: int, channels: int, seed: int,
                  net, image=None, stats_size: int | None = None) -> Reference:
    """The real side: a statistics file, an image set, or ``n`` images of ``data``, at
    ``size`` px; a statistics file must have been made for ``stats_size`` px images."""
    if reference is not None and is_statistics(Path(reference)):
        feats, meta = load_statistics(Path(reference))
        if net is not None:  # metrics of pixels only do not read the features
            check_statistics(meta, net, stats_size or size, channels, reference)
        return Reference(feats, None, None, {"reference": f"statistics {reference} ({meta.get('reference')})",
                                       "reference_split": meta.get("reference_split")})
    if reference is not None:
        images, described = load_images(Path(reference))
        if tuple(images.shape[1:]) != (channels, size, size):
            images = resize_uint8(match_channels(images, channels), size)
        return Reference(None, images[:n], None, {"reference": described, "reference_split": "file"})
    if data is None:
        raise DfmganError("which data to compare with? pass --data NAME or --ref PATH")
    images, labels, described = real_images(data, root, split, n, size, channels, seed, image)
    return Reference(None, images, labels, {"reference": described, "reference_split": split or "default"})


def append_jsonl(path: Path, row: dict) -> None:
    """One more line, written by rewriting the file atomically: a full disk names the file
    and leaves it as it was (an append cut short would leave a torn line, or an empty file)."""
    from ..files import atomic_write
    from ..marks import signed

    import fcntl
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # two evaluations appending at once would each rewrite the file from what it read, and
    # one row would be lost: the read and the rewrite hold a lock on the folder (no lock
    # file is left in it), a moment each
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        old = path.read_bytes() if path.is_file() else b""
        if old and not old.endswith(b"\n"):
            old += b"\n"  # a torn last line stays its own line
        atomic_write(path, old + (json.dumps(signed(row)) + "\n").encode())
    finally:
        os.close(folder)


def labelled_sets(G, data: str, root, n: int, seed: int) -> LabelledSets:
    """n generated images cycling through G's classes, n real training images, the test split."""
    if not G.cfg.n_classes:
        raise DfmganError("labelled metrics need a conditional generator (train with --classes N)")
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


def features_of(net, images, device, stage, what: str) -> Features:
    stage(f"features of {len(images):,} {what} images")
    return extract(net, images, device=device, progress=stage.shown, desc=f"features ({what})")


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

    def d_folder(self) -> Path:
        """Where this generator's D would be: its run folder, or the snapshot's folder."""
        p = Path(self.source)
        return p if p.is_dir() else p.parent

    def has_discriminator(self) -> bool:
        from ..layout import state_paths
        from ..layout import DISCRIMINATOR

        folder = self.d_folder()
        return self.G is not None and ((folder / DISCRIMINATOR).is_file() or bool(state_paths(folder)))

    def discriminator(self, device):
        from ..snapshot import load_discriminator

        return load_discriminator(self.d_folder(), device)[0]

    def count(self, n: int) -> int:
        """How many images are judged: ``n``, or all of an image set when it has fewer."""
        return n if self.G is not None else min(n, len(self.images))

    def sample(self, n: int, seed: int, bn: str, truncation: float = 1.0) -> torch.Tensor:
        if self.G is None:
            return self.images[:n]
        return self.G.sample(n, seed=seed, mode=bn, truncation=truncation)

    def provenance(self) -> dict:
        if self.G is None:
            return {"source": self.described}
        return {"source": str(self.source), "step": self.meta.get("step"),
                "ema": self.meta.get("ema", 0.0)}


def judged(gen_side, sample, data, data_root, ref, net, device, stage, labelled, image,
           size: int) -> Judged:
    """The evaluation's inputs (``inputs.judged``), each made when a metric first reads it."""
    return make_judged(available(gen_side, data, ref, net), sample,
                       lambda x, side: features_of(net, x, device, stage, side),
                       discriminator=lambda: gen_side.discriminator(device), labelled=labelled,
                       test_split=lambda: test_split(data, data_root, size, gen_side.channels, image))


def available(gen_side, data, ref, net) -> Available:
    """This evaluation's facts, for ``inputs.can_give``."""
    return Available(data, ref, net, conditional=gen_side.G is not None and bool(gen_side.G.cfg.n_classes),
                     discriminator=gen_side.has_discriminator())


def test_split(data: str, root, size: int, channels: int, image=None) -> Labelled:
    """The whole labelled test split of ``data`` at ``size`` px and ``channels``."""
    test = load_dataset(data, root, "test", size, channels, image)
    images, labels = test.get(torch.arange(len(test)))
    return Labelled(images.cpu(), None if labels is None else labels.cpu())


def provenance_of(j: Judged, gen_side, net, n: int) -> dict:
    """Where the scores come from: the generated side, and what was made for the metrics."""
    prov = {**gen_side.provenance(), "n_gen": n}
    if "gen" in j.made():
        prov.update(net.provenance())
    if "real" in j.made():
        prov["n_real"] = len(j.real.pool)
    if {"real", "reference"} & j.made():
        prov.update(j.reference.provenance)
    if "labelled" in j.made():
        prov.update({"n_test": len(j.labelled.test.labels), "labelled_reference": "test"})
    return prov


def evaluate(source, metrics=None, data: str | None = None, data_root=None,
             split: str | None = None, n: int = 10_000, n_real: int | None = None, seed: int = 0,
             feature_net: str | None = None, bn: str = "batch", out: Path | None = None,
             opts: MetricOptions | None = None, device: str = "cpu",
             inception_weights=None, ema: bool = True, progress: bool = False,
             reference=None, truncation: float = 1.0, skip_bad: bool | None = None,
             size: int | None = None) -> dict:
    """Score ``source`` (a run folder or snapshot, sampled ``n`` times; or an image set:
    .npz, .npy, a folder) against ``reference`` (a statistics file or an image set) or
    ``data``; a run folder's EMA generator when it has one, unless ``ema`` is False. The
    row holds the scores at its top level and where they come from under ``provenance``.
    ``truncation``: ψ of the truncation trick on the sampled latents (``sampling.truncate``).
    A run's recorded data settings (root, fit, background, skip_bad) are used unless given
    (``data.recorded``); ``size`` judges both sides at that many pixels (default: the
    generator's, or the image set's)."""
    from ..sampling import check_truncation

    gen_side = Generated(source, device, ema)
    if truncation != 1.0:
        if gen_side.G is None:
            raise DfmganError("--truncation applies to a generator's latents, not to an image set")
        check_truncation(truncation)  # before any work
    data, data_root, image = recorded_data(source, data, data_root, skip_bad, gen_side.meta)
    size = check_size(size) or gen_side.size
    if data is None and reference is None:
        raise DfmganError("which data to compare with? pass --data NAME or --ref PATH")
    chosen = records(metrics_for(data, metrics))
    n, opts = gen_side.count(n), opts or MetricOptions(seed=seed)
    need = needed(chosen)
    net = ref = None
    if need & {"features", "logits"}:  # both read before any sampling
        net = feature_net_for(data, feature_net, inception_weights)
    if need & {"features", "logits", "reference_images", "reference_labels"}:
        # a reference for features alone is read at the net's size: candidates of 1024 px
        # once made digits' whole reference set 1024 px too (22.8 GB); the stats check keeps size
        ref_size = min(size, net.input_size) if net is not None and not need & PIXELS else size
        ref = reference_for(reference, data, data_root, split, n_real or n, ref_size,
                            gen_side.channels, seed, net, image, stats_size=size)
    have = can_give(available(gen_side, data, ref, net))
    if metrics is None:  # the default set: what this evaluation can give, the rest said
        chosen = defaults_given(chosen, have)
    check_needs(chosen, have)
    stage = Stages(1 + len(chosen) + 2 * bool(need & {"features", "logits"}) + ("labelled" in need), progress)
    t0 = time.perf_counter()
    images: list[torch.Tensor] = []

    def sample() -> torch.Tensor:
        if not images:
            stage(f"sampling {n:,} images")
            drawn = gen_side.sample(n, seed, bn, truncation)  # (n, C, H, W) uint8
            images.append(drawn if drawn.shape[-1] == size else resize_uint8(drawn, size))
        return images[0]

    def labelled() -> LabelledSets:
        stage("labelled sets")
        return labelled_sets(gen_side.G, data, data_root, n, seed)

    j = judged(gen_side, sample, data, data_root, ref, net, device, stage, labelled, image, size)
    scores = run_metrics(j, chosen, opts, stage)
    stage.close()
    prov = provenance_of(j, gen_side, net, n)
    prov.update({"metrics": [m.name for m in chosen], "seed": seed, "bn": bn,
                 **({"truncation": truncation} if truncation != 1.0 else {}),
                 "splits": opts.splits, "seconds": round(time.perf_counter() - t0, 2)})
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
