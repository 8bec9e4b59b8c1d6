"""The README's set-up commands and Python snippets, run as written."""
import re

import torch

from dfmgan.presets import build_config
from dfmgan.training import train

from conftest import REPO, tiny_overrides

README = (REPO / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_opens_with_the_two_commands():
    first = re.search(r"```sh\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert [l.split("#")[0].strip() for l in first] == ["make demo", "make test"]
    make = (REPO / "Makefile").read_text()
    assert "--preset digits" in make and "pytest" in make
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_loading_snippet_runs_as_written(tmp_path, monkeypatch):
    train(build_config("digits", overrides=tiny_overrides(steps=2)), tmp_path / "runs" / "demo",
          progress=False)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(python_blocks()[0], scope)
    images = scope["images"]
    assert images.shape == (16, 1, 28, 28) and images.dtype == torch.uint8


def test_training_snippet_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = python_blocks()[1].replace('"steps": 2000', '"steps": 2, "batch_size": 16, '
                                      '"net": {"g_width": 8, "d_width": 8}')
    assert code != python_blocks()[1]  # the snippet still has the shape this test expects
    exec(code, {})
    assert (tmp_path / "runs" / "fm-py" / "generator.safetensors").exists()
