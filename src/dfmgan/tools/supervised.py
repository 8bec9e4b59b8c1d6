"""The supervised baseline of DCGAN §5.2 (Table 2: "a purely supervised CNN with the same
architecture ... trained on the same data", 28.87% error on SVHN at 1,000 labels).

D's architecture (``models.Discriminator`` of the run's config) with its one-logit head
swapped for a K-way one, trained from scratch on one labelled draw alone, the very draw
the probe fits its linear classifier on (``linear_probe.per_class``, same seed), and
scored on the test split. It never sees a label outside the draw: the draw is cut from
the pool before anything else, and a test holds it to that.

Tuning, as the paper tuned it but smaller: the paper ran 64 random-search trials; here
``TRIALS`` random (learning rate, weight decay) pairs are tried on the first draw of each
budget, each trained with Adam for ``STEPS`` steps on a stratified 80% of the draw and
early-stopped on the other 20% (the state with the best validation accuracy is kept); the
winning pair is then reused for the other draws, which are again early-stopped on their
own 20%. A draw with fewer than 5 examples of some class has no validation split and is
trained for ``STEPS`` steps with ``DEFAULT``.

``STEPS`` is a floor: a draw trains for at least ``MIN_EPOCHS`` passes over its 80%, so
that every label (48,000 training images on Fashion-MNIST) gets 7,500 steps, not the 600
(under one epoch) that suit 10 to 400 labels a class; the check interval grows with it, to
``CHECKS`` validation passes a trial."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from ..data.transforms import to_float
from ..evaluation.linear_probe import holdout, per_class
from ..evaluation.probe import summary
from ..evaluation.registry import Labelled, MetricOptions
from ..models import Discriminator

TRIALS, STEPS, BATCH, CHECK_EVERY = 6, 600, 64, 50
MIN_EPOCHS, CHECKS = 10, 12  # budgets up to 400 a class (3,200 images) stay at 600 steps


def schedule(n: int) -> tuple[int, int]:
    """(steps, check interval) for a training split of ``n`` images."""
    steps = max(STEPS, math.ceil(MIN_EPOCHS * n / BATCH))
    return steps, max(CHECK_EVERY, steps // CHECKS)


def settings() -> dict:
    """What the schedule and the search depend on, for the baselines cache's key."""
    return {"trials": TRIALS, "steps": STEPS, "batch": BATCH, "check_every": CHECK_EVERY,
            "min_epochs": MIN_EPOCHS, "checks": CHECKS}


@dataclass(frozen=True)
class Trial:
    lr: float
    weight_decay: float


DEFAULT = Trial(2e-4, 1e-5)  # DCGAN's Adam step; light decay


def search(n: int, seed: int) -> list[Trial]:
    """``n`` random pairs: lr log-uniform in [1e-4, 3e-3], weight decay in [1e-6, 1e-2]."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 2, generator=g, dtype=torch.float64)
    lo, hi = torch.tensor([1e-4, 1e-6]).log(), torch.tensor([3e-3, 1e-2]).log()
    return [Trial(*(lo + (hi - lo) * row).exp().tolist()) for row in u]


class Classifier(nn.Module):
    """D's blocks, and a conv over the last map to ``n_classes`` logits: (B, C, H, W) ->
    (B, n_classes)."""

    def __init__(self, cfg, n_classes: int):
        super().__init__()
        d = Discriminator(cfg)
        self.blocks = d.blocks
        self.head = nn.Conv2d(d.head.in_channels, n_classes, d.head.kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x).flatten(1)


@torch.no_grad()
def accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> float:
    net.eval()
    right = sum(int((net(to_float(images[i:i + batch])).argmax(1) == labels[i:i + batch]).sum())
                for i in range(0, len(images), batch))
    net.train()
    return right / len(images)


def train(cfg, train_set: Labelled, val: Labelled | None, n_classes: int, trial: Trial,
          seed: int) -> tuple[nn.Module, float]:
    """Adam for ``schedule(n)`` steps on ``train_set`` (n images, labels 0..K-1); with
    ``val``, the state of the best validation accuracy, checked at the schedule's interval."""
    steps, check_every = schedule(len(train_set.labels))
    torch.manual_seed(seed)
    net, g = Classifier(cfg, n_classes), torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), trial.lr, betas=(0.5, 0.999),
                           weight_decay=trial.weight_decay)
    best, best_acc = None, -math.inf
    for step in range(1, steps + 1):
        idx = torch.randint(len(train_set.labels), (min(BATCH, len(train_set.labels)),), generator=g)
        loss = nn.functional.cross_entropy(net(to_float(train_set.images[idx])), train_set.labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if val is not None and step % check_every == 0:
            acc = accuracy(net, val.images, val.labels)
            if acc > best_acc:
                best, best_acc = copy.deepcopy(net.state_dict()), acc
    if best is not None:
        net.load_state_dict(best)
    return net, best_acc if val is not None else float("nan")


def fit_draw(cfg, draw: Labelled, n_classes: int, trials: list[Trial], seed: int):
    """The best of ``trials`` on this draw's validation split: (net, trial, its accuracy)."""
    split = holdout(draw.labels.numpy(), seed)
    if split is None:
        return (*train(cfg, draw, None, n_classes, DEFAULT, seed)[:1], DEFAULT, float("nan"))
    t, v = (torch.as_tensor(i) for i in split)
    tr, va = Labelled(draw.images[t], draw.labels[t]), Labelled(draw.images[v], draw.labels[v])
    results = [(*train(cfg, tr, va, n_classes, trial, seed), trial) for trial in trials]
    net, val_acc, trial = max(results, key=lambda r: r[1])
    return net, trial, val_acc


def supervised_scores(pool: Labelled, test: Labelled, cfg, opts: MetricOptions,
                      trials: int = TRIALS) -> dict[str, float]:
    """``probe_<budget>`` and ``probe_<budget>_std`` as the probe metric reports them, for
    D's architecture trained on each labelled draw alone."""
    classes = pool.labels.unique()
    index = {int(c): i for i, c in enumerate(classes)}  # labels -> 0..K-1

    def relabel(s: Labelled) -> Labelled:
        return Labelled(s.images, torch.tensor([index[int(c)] for c in s.labels]))

    pool, test, out = relabel(pool), relabel(test), {}
    for budget in opts.probe_budgets:
        accs, chosen = [], None
        for d in range(opts.probe_draws if budget else 1):  # every label: one draw
            g = torch.Generator().manual_seed(opts.seed + d)
            idx = per_class(pool.labels, budget, g) if budget else torch.arange(len(pool.labels))
            draw = Labelled(pool.images[idx], pool.labels[idx])  # all it will ever see
            candidates = search(trials, opts.seed) if chosen is None else [chosen]
            net, chosen, _ = fit_draw(cfg, draw, len(classes), candidates, opts.seed + d)
            accs.append(accuracy(net, test.images, test.labels))
        out.update(summary(budget, accs))
    return out
