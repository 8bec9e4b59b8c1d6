"""``dfmgan report``: the page is self-contained, and it renders in headless Chromium."""
import base64
import io
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import TINY_FLAGS, run_cli
from PIL import Image

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    assert run_cli("train", "--preset", "digits", "--out", str(out), "--steps", "6",
                   "--sample-every", "2", "--eval-every", "3", "--eval-n", "100",
                   *TINY_FLAGS).returncode == 0
    assert run_cli("eval", str(out), "--n", "100", "--splits", "2").returncode == 0
    r = run_cli("report", str(out))
    assert r.returncode == 0, r.stderr
    return out / "report.html"


def images(page: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(b)))
            for b in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_page_is_self_contained(report):
    page = report.read_text()
    imgs = images(page)
    # 2 curve panels (losses, D outputs), one per directional number scored during training
    # (digits' standard set: fid, kid, precision, recall, is, class_entropy), 3 grids (steps
    # 2, 4, 6) and the class histogram of the samples
    assert len(imgs) == 2 + 6 + 3 + 1 and all(i.size[0] > 50 for i in imgs)
    for key in ("fid", "kid", "precision", "recall", "is", "class_entropy"):
        assert f'alt="{key} during training (' in page
    assert "Class histogram" in page or "class histogram" in page
    assert "<b>fid</b>: Fréchet distance" in page  # each metric explained in a line
    assert "src=\"http" not in page and "<link" not in page  # nothing fetched
    assert "step 6" in page and "bundled:digits" in page and "&quot;batch_size&quot;: 16" in page
    assert "<th>fid</th>" in page


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_page_renders_in_headless_chromium(report, tmp_path):
    base = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*base, "--dump-dom", report.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    n = len(images(report.read_text()))
    assert f'data-images-loaded="{n}"' in dom  # every embedded PNG decoded in the browser
    shot = tmp_path / "shot.png"
    subprocess.run([*base, "--window-size=1300,1800", f"--screenshot={shot}", report.as_uri()],
                   capture_output=True, timeout=120)
    pixels = Image.open(shot).convert("L")
    assert pixels.size == (1300, 1800) and len(np.unique(np.asarray(pixels))) > 50  # not blank


def test_report_of_a_missing_run(tmp_path):
    r = run_cli("report", str(tmp_path / "nope"))
    assert r.returncode == 2 and "not a dfmgan run" in r.stderr
