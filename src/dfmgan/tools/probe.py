"""The discriminator as a feature extractor (DCGAN §5.1–5.2, Tables 1–2).

Every conv layer of D is max-pooled to a 4×4 grid; the results are flattened,
concatenated and standardised, and a regularised L2-SVM (scikit-learn's LinearSVC,
squared hinge loss) is fitted on them, with C chosen on a validation split held out of
the labelled images (above 5,000 examples the same model is solved by L-BFGS, see
``evaluation/l2svm.py``; the machinery is ``evaluation/linear_probe.py``, shared with the
``probe`` metric). Label budgets are all labels or N per class (repeated draws give
mean ± std). Baselines in the same table: raw pixels, a randomly initialised D of the
same architecture, and single-layer K-means features (``kmeans.py``)."""
from __future__ import annotations

import statistics

import torch
from tqdm import tqdm

from ..errors import DfmganError
from ..evaluation.linear_probe import Featurizer, pixels, pooled_features, probe_one


def probe(featurizers: dict[str, Featurizer], train, test, budgets: list[int | None],
          draws: int = 5, seed: int = 0, progress: bool = False) -> list[dict]:
    """Rows of the probe table: one per feature set and label budget."""
    if train.labels is None or test.labels is None:
        raise DfmganError("the probe needs labelled data (digits, mnist, fashion-mnist, "
                          "cifar10, svhn, stl10 train/test)")
    rows = []
    # one tick per feature set's extraction (K-means' fit included) and per budget's fits,
    # so the bar moves, and gives an ETA, from the first minute
    bar = tqdm(total=len(featurizers) * (1 + len(budgets)), desc="probe", disable=not progress)
    for name, featurize in featurizers.items():
        bar.set_postfix_str(f"{name}: features")
        tr, te = featurize(train.images), featurize(test.images)
        bar.update()
        for budget in budgets:
            bar.set_postfix_str(f"{name}, {budget or 'all'} labels")
            fits = probe_one(tr, train.labels, te, test.labels, budget, draws, seed)
            accs = [f.accuracy for f in fits]
            rows.append({"features": name, "dim": tr.shape[1],
                         "labels": f"{budget}/class" if budget else "all",
                         "accuracy": statistics.mean(accs),
                         "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                         "draws": len(fits), "C": [f.C for f in fits]})
            bar.update()
    bar.close()
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| features | dim | labels | test accuracy | test error |", "|---|---:|---|---:|---:|"]
    for r in rows:
        pm = f" ± {100 * r['std']:.2f}" if r["draws"] > 1 else ""
        lines.append(f"| {r['features']} | {r['dim']} | {r['labels']} | "
                     f"{100 * r['accuracy']:.2f}%{pm} | {100 * (1 - r['accuracy']):.2f}% |")
    return "\n".join(lines)


def parse_budgets(text: str) -> list[int | None]:
    out = []
    for t in (t.strip() for t in text.split(",") if t.strip()):
        if t != "all" and not (t.isdigit() and int(t) > 0):
            raise DfmganError(f"--labels: {t!r} is neither a positive count per class nor 'all'")
        out.append(None if t == "all" else int(t))
    return out


def featurizers(D, baselines: list[str], k: int, fit_images: torch.Tensor, seed: int,
                device) -> dict[str, Featurizer]:
    """The trained D first, then the baselines asked for, by name."""
    from ..models import Discriminator
    from .kmeans import KMeansFeatures

    def random_d():
        torch.manual_seed(seed)
        return Discriminator(D.cfg)

    known = {
        "random-d": lambda: ("D (random init)", lambda x, R=random_d(): pooled_features(R, x, device=device)),
        "pixels": lambda: ("raw pixels", pixels),
        "kmeans": lambda: (f"k-means, K={k}", lazy(lambda: KMeansFeatures.fit(fit_images, k, seed=seed).encode)),
    }
    bad = [b for b in baselines if b not in known]
    if bad:
        raise DfmganError(f"unknown baseline {bad[0]!r}; choose from {', '.join(known)}")
    out = {"D (trained)": lambda x: pooled_features(D, x, device=device, progress=True)}
    out.update(known[b]() for b in baselines)
    return out


def lazy(make):
    """A featurizer built on its first call (K-means' fit: minutes, inside the progress bar)."""
    made = []

    def featurize(x):
        if not made:
            made.append(make())
        return made[0](x)
    return featurize


def run_probe(source, data, root, labels: str, draws: int, baselines: str, k: int, seed: int,
              device, out) -> tuple[list[dict], str]:
    """``dfmgan probe``: the table, also written as JSON to ``out``."""
    import json
    from pathlib import Path

    from ..files import write_record
    from ..data import load_dataset
    from ..data.recorded import recorded_data
    from ..snapshot import load_discriminator

    D, meta = load_discriminator(source, device)
    if D.cfg.n_classes:
        raise DfmganError("the probe reads an unconditional D (a conditional one sees the label)")
    data, root, image = recorded_data(source, data, root, meta=meta)  # the run's own files
    budgets = parse_budgets(labels)
    train = load_dataset(data, root, None, D.cfg.size, D.cfg.channels, image)
    test = load_dataset(data, root, "test", D.cfg.size, D.cfg.channels, image)
    names = [b.strip() for b in baselines.split(",") if b.strip()]
    rows = probe(featurizers(D, names, k, train.images, seed, device), train, test, budgets,
                 draws, seed, progress=True)
    record = {"source": str(source), "step": meta.get("step"), "data": data,
              "train": train.description, "test": test.description, "seed": seed, "rows": rows}
    write_record(Path(out), record)
    return rows, table(rows)
