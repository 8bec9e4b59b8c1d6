"""One file per addition: an objective, a loss family, a dataset or a metric written as a new
module of its package is found, listed in --help and used, without editing any list and
whatever its decorator's spelling. The modules go into a temporary copy of the package
(on PYTHONPATH for the subprocesses), never into src/, where a killed run would leave them."""
import subprocess
import sys
from pathlib import Path

import pytest

import dfmgan

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only

PKG = Path(dfmgan.__file__).parent

OBJECTIVE = '''
from dataclasses import dataclass

from .base import Objective, register_objective


@dataclass
class HalfSettings:
    weight: float = 0.5


@register_objective
class Half(Objective):
    name = "zz-half"
    summary = "half the adversarial term (a test's objective)"
    defaults = {"optim": {"lr": 3e-4}}
    Settings = HalfSettings
    RANGES = {"weight": (0.0, 1.0)}

    def g_loss(self, fake, real):
        return self.own.weight * self.adv.g_loss(fake.logits), {}
'''

FAMILY = '''
from .adversarial import Adversarial, register_adversarial


@register_adversarial
class LeastSquares(Adversarial):
    name = "zz-lsgan"

    def d_loss(self, d_real, d_fake):
        return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake ** 2).mean()

    def g_loss(self, d_fake, d_real=None):
        return 0.5 * ((d_fake - 1) ** 2).mean()
'''

DATASET = '''
import torch

from .base import ArraySource
from .registry import register_dataset


@register_dataset("zz-squares", splits=("train",), needs_root=False)
def load_squares(root, split):
    x = torch.zeros(8, 1, 28, 28, dtype=torch.uint8)
    x[:, :, 10:18, 10:18] = 255
    return ArraySource(x, None, "zz-squares (8 white squares)")
'''

METRIC = '''
from . import registry


@registry.register_metric("zz-mean", needs=("images", "reference_images"),
                          better={"zz_gap": "lower"}, meaning="mean pixel gap (a test's metric)")
def mean_gap(j, opts):
    return {"zz_gap": float(j.images.float().mean() - j.reference.images.float().mean())}
'''

CHECK = '''
from dfmgan.resolver import build_config
from dfmgan.data import load_dataset
from dfmgan.training import train
cfg = build_config("digits", overrides={"objective": {"name": "zz-half", "adversarial": "zz-lsgan",
    "zz-half": {"weight": 0.25}}, "data": {"name": "zz-squares"}, "steps": 2, "batch_size": 4,
    "grid": 4, "net": {"g_width": 4, "d_width": 4}})
print(cfg.optim.lr, len(load_dataset("zz-squares")), cfg.to_dict()["objective"]["zz-half"]["weight"])
r = train(cfg, sys.argv[1], progress=False)
print(r.step)
'''


@pytest.fixture
def added_modules(tmp_path):
    """A copy of the package with the new modules in it; the environment that imports it."""
    import os
    import shutil

    root = tmp_path / "site"
    shutil.copytree(PKG, root / "dfmgan", ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in {"objectives/zz_half.py": OBJECTIVE, "objectives/zz_lsgan.py": FAMILY,
                      "data/zz_squares.py": DATASET, "evaluation/zz_mean.py": METRIC}.items():
        (root / "dfmgan" / rel).write_text(text)
    assert not list(PKG.rglob("zz_*.py"))  # src/ untouched
    return dict(os.environ, PYTHONPATH=str(root))


def test_new_modules_are_found_listed_and_trained(added_modules, tmp_path):
    env = added_modules
    r = subprocess.run([sys.executable, "-m", "dfmgan", "train", "--help"], capture_output=True,
                       text=True, timeout=120, env=env)
    help_text = " ".join(r.stdout.split())
    for name in ("zz-half", "zz-lsgan", "zz-squares", "half the adversarial term"):
        assert name in help_text
    r = subprocess.run([sys.executable, "-c", "import sys\n" + CHECK, str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    # the objective's defaults, its own setting (objective.zz-half.weight); 2 steps trained
    assert r.stdout.split() == ["0.0003", "8", "0.25", "2"]
    r = subprocess.run([sys.executable, "-m", "dfmgan", "train", "--objective", "zz-half",
                        "--set", "objective.zz-half.weight=2", "--print-config"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "dfmgan: error: objective.zz-half.weight must be in 0.0..1.0, got 2.0"], r.stderr



def test_a_metric_is_found_whatever_its_decorator_spelling(added_modules):
    # `@registry.register_metric(` held no marker the old text search knew
    r = subprocess.run([sys.executable, "-m", "dfmgan", "eval", "--list"], capture_output=True,
                       text=True, timeout=120, env=added_modules)
    assert r.returncode == 0 and "zz-mean" in r.stdout and "a test's metric" in r.stdout, r.stderr
    r = subprocess.run([sys.executable, "-c", "import dfmgan; print(dfmgan.__file__)"],
                       capture_output=True, text=True, env=added_modules)
    assert "site/dfmgan" in r.stdout  # the copy, not src/


def test_a_metric_that_needs_the_reference_images_is_one_file(added_modules, tmp_path):
    """The new metric reads the real pixels through the one reference object; eval gives
    them to it from an image set, and refuses in one line where only statistics exist."""
    import json

    import numpy as np

    np.save(tmp_path / "gen.npy", np.full((6, 8, 8, 1), 100, np.uint8))
    np.save(tmp_path / "ref.npy", np.full((6, 8, 8, 1), 40, np.uint8))
    r = subprocess.run([sys.executable, "-m", "dfmgan", "eval", str(tmp_path / "gen.npy"),
                        "--ref", str(tmp_path / "ref.npy"), "--metrics", "zz-mean",
                        "--out", str(tmp_path / "m.jsonl"), "--no-progress"],
                       capture_output=True, text=True, timeout=120, env=added_modules)
    assert r.returncode == 0, r.stderr
    row = json.loads((tmp_path / "m.jsonl").read_text())
    assert row["zz_gap"] == 60.0 and row["provenance"]["metrics"] == ["zz-mean"]
