"""Evaluation during training, and the best checkpoint by it.

A DCGAN run can collapse after its best point (a reported StudioGAN run went from FID
49 to 137), so every ``eval_every`` steps the trainer scores G on ``eval_n`` samples from
a fixed latent set, with the metrics of ``eval_metrics`` (by default the dataset's own:
FID in the bundled feature space, or ``modes`` on stacked data). Feature metrics compare
against the same real images every time. The checkpoint and snapshot that score best on
the first metric that names a best key (FID, the modes' KL) are kept in ``RUN/best/``."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from ..snapshot_file import export_snapshot
from ..checkpoint import write_state
from ..files import atomic_write
from ..reading import parse_json
from ..data import draw_labelled
from ..errors import DfmganError
from ..layout import RunLayout
from ..sampling import generate
from .api import metrics_for, needed, records, run_metrics
from .inputs import Available, can_give, check_needs, judged
from .features import extract, feature_net_for
from .registry import MetricOptions, best_keys
from .sources import Reference


def plan(data: str, metrics: str, best: str, needs: bool = False):
    """(metrics, the key RUN/best is kept by, whether lower is better) of evaluation during
    training on ``data``; one line for an unknown name, a metric that cannot run during
    training, a best key no metric keeps, or (with ``needs``) a need that training can
    never meet, before any data are loaded."""
    names = [m.strip() for m in metrics.split(",") if m.strip()]
    chosen = records(metrics_for(data, names))
    for m in chosen:
        if not m.during_training:
            raise DfmganError(f"metric {m.name!r} cannot run during training; score it "
                              "afterwards with dfmgan eval")
    keys = best_keys(m.name for m in chosen)
    if best and best not in dict(keys):
        raise DfmganError(f"eval_best {best!r} is not a key the metrics keep a best by "
                          f"({', '.join(k for k, _ in keys) or 'none of ' + ', '.join(m.name for m in chosen)})")
    if needs:
        check_needs(chosen, can_give(Available(data, discriminator=True)))
    key = best or (keys[0][0] if keys else None)
    return chosen, key, dict(keys).get(key, True)


class TrainingEvaluator:
    """Scores G (and, for a metric of D such as ``probe``, the run's D) every eval_every
    steps on fixed latents, against real images drawn once per run."""

    def __init__(self, source, data: str, G, n: int, seed: int, device, metrics: str = "",
                 best: str = "", test_split=None):
        self.metrics, self.best_key, self.lower_is_better = plan(data, metrics, best)
        self.data, self.device = data, device
        needs = needed(self.metrics)
        g = torch.Generator().manual_seed(seed + 3)
        self.net = feature_net_for(data) if needs & {"features", "logits"} else None
        self.ref = self.real = None
        if needs & {"features", "logits", "reference_images", "reference_labels"}:
            # the reference, drawn once per run; as many samples as real images, every time
            images, labels = draw_labelled(source, n, g)
            self.ref = Reference(None, images, labels, {"reference": "training data, drawn once"})
            n = len(images)
        check_needs(self.metrics, can_give(Available(data, self.ref, self.net, discriminator=True)))
        self.test_split, self.test = test_split, None  # loaded at the first evaluation
        if self.net is not None:  # the real side's features, once per run
            self.real = extract(self.net, self.ref.images, device=device)
            self.ref = replace(self.ref, features=self.real)
        self.z = G.sample_latent(n, g)  # (n, nz): the same latents at every evaluation
        self.labels = torch.arange(n) % G.cfg.n_classes if G.cfg.n_classes else None
        self.of_d: tuple[int | None, dict] = (None, {})  # (step, scores of D-only metrics)

    def split(self):
        if self.test is None:
            self.test = self.test_split()
        return self.test

    def scores(self, G, D=None, step: int | None = None) -> dict[str, float]:
        """Every metric of G (and D); metrics of D alone are computed once per ``step``
        (the EMA and the raw G of one step share them)."""
        images = generate(G, self.z, self.labels, "batch")
        j = judged(Available(self.data, self.ref, self.net, discriminator=True), lambda: images,
                   lambda x, side: extract(self.net, x, device=self.device),
                   discriminator=lambda: D, test_split=self.split)
        of_g = [m for m in self.metrics if not m.of_d_only]
        if step is None or self.of_d[0] != step:
            self.of_d = (step, run_metrics(j, [m for m in self.metrics if m.of_d_only], MetricOptions()))
        out = {**run_metrics(j, of_g, MetricOptions()), **self.of_d[1]}
        return {k: float(v) for k, v in out.items() if isinstance(v, (int, float))}


def read_best(path: Path) -> dict:
    """best.json: {"step": s, KEY: value}, a whole step and finite numbers; one line naming
    the file for anything else, so a damaged record stops the run before RUN/best/ could be
    replaced by a worse state."""
    import math

    try:
        best = parse_json(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise DfmganError(f"{path} is damaged ({e}); move it away to keep a new best") from None
    ok = isinstance(best, dict) and isinstance(best.get("step"), int) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in best.values())
    if not ok:
        raise DfmganError(f"{path} is not a best record ({{\"step\": N, \"KEY\": value}}); "
                          "move it away to keep a new best")
    return best


class BestKeeper:
    """``RUN/best/``: the state with the best value of one key (the lowest, unless the
    metric says higher is better), its snapshot and
    ``best.json`` ({"step": s, key: value})."""

    def __init__(self, run_dir: Path):
        self.folder = RunLayout(run_dir).best
        record = RunLayout(run_dir).best_record
        self.best = read_best(record) if record.exists() else None

    def offer(self, step: int, key: str, value: float, state: dict, G, meta: dict,
              lower_is_better: bool = True) -> bool:
        if self.best is not None and key in self.best and \
                (value >= self.best[key] if lower_is_better else value <= self.best[key]):
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        write_state(RunLayout(self.folder.parent).best_state, step, state)
        export_snapshot(self.folder, G, {**meta, key: value})
        self.best = {"step": step, key: value}
        atomic_write(RunLayout(self.folder.parent).best_record, json.dumps(self.best).encode())
        return True
