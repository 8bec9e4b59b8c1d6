"""The study specs in benchmarks/studies/: every one resolves to valid run configs, and its
header gives the command that reproduces it. A spec is hours of a machine's time; a
mistyped key (``objective.dfm.denoiser.bf61``) should fail here, not after a session's
wait, and a header's command that names another spec would mislead whoever reruns it."""
import re
from pathlib import Path

import pytest

from dfmgan.tools.study import load_study

SPECS = sorted((Path(__file__).parent.parent / "benchmarks" / "studies").glob("*.yaml"))
COMMAND = re.compile(r"^#\s+dfmgan study (\S+) --out (\S+)", re.M)


def test_there_are_specs():
    assert len(SPECS) >= 10


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_spec_resolves(path, tmp_path):
    study = load_study(path, tmp_path / "out")
    names = [r.name for r in study.runs]
    assert len(names) == len(set(names)) > 0
    assert all(0 < b <= max(r.cfg.steps for r in study.runs) for b in study.budgets)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_header_names_its_own_command(path):
    commands = COMMAND.findall(path.read_text())
    assert commands, f"{path.name}: no '#   dfmgan study SPEC --out DIR' line"
    own = [out for spec, out in commands if spec == f"benchmarks/studies/{path.name}"]
    assert own, f"{path.name}: its header runs only {[c[0] for c in commands]}"
    assert re.fullmatch(r"benchmarks/results/study-[A-Za-z0-9.+-]+", own[0])
