"""One file per addition: an objective, a loss family or a dataset written as a new module
of its package is found, listed in --help and used, without editing any list."""
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

    def g_loss(self, d_gen):
        return 0.5 * ((d_gen - 1) ** 2).mean()
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

CHECK = '''
from dfmgan.presets import build_config
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
def added_modules():
    files = {PKG / "objectives" / "zz_half.py": OBJECTIVE,
             PKG / "objectives" / "zz_lsgan.py": FAMILY,
             PKG / "data" / "zz_squares.py": DATASET}
    for path, text in files.items():
        path.write_text(text)
    yield
    for path in files:
        path.unlink(missing_ok=True)


def test_new_modules_are_found_listed_and_trained(added_modules, tmp_path):
    r = subprocess.run([sys.executable, "-m", "dfmgan", "train", "--help"], capture_output=True,
                       text=True, timeout=120)
    help_text = " ".join(r.stdout.split())
    for name in ("zz-half", "zz-lsgan", "zz-squares", "half the adversarial term"):
        assert name in help_text
    r = subprocess.run([sys.executable, "-c", "import sys\n" + CHECK, str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # the objective's defaults, its own setting (objective.zz-half.weight); 2 steps trained
    assert r.stdout.split() == ["0.0003", "8", "0.25", "2"]
    r = subprocess.run([sys.executable, "-m", "dfmgan", "train", "--objective", "zz-half",
                        "--set", "objective.zz-half.weight=2", "--print-config"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "dfmgan: error: objective.zz-half.weight must be in 0.0..1.0, got 2.0"], r.stderr
