"""The GPU check's own logic, run on the CPU (the GPU run itself needs a GPU machine)."""
import importlib.util
import json
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only


@pytest.mark.slow
def test_gpu_check_passes_on_the_cpu(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--device",
                        "cpu", "--quick", "--json", str(tmp_path / "gc.json")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    # the number of checks is the plan's own, read from the script, not typed here
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    gc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gc)
    plan = [label for label, _ in [*gc.training_checks("cpu", tmp_path, True),
                                   *gc.resume_checks("cpu", tmp_path),
                                   *gc.other_checks("cpu", tmp_path, True)]]
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith(f"gpu-check: {len(plan)}/{len(plan)} passed on CPU"), last
    results = json.loads((tmp_path / "gc.json").read_text())["results"]
    assert [x["check"] for x in results] == plan and all(x["ok"] for x in results)
    names = {x["check"] for x in results}
    assert {"train dfm bf16", "resume cpu -> device: equal", "torchrun, 1 process", "eval"} <= names
