"""benchmarks/compare_studies.py: studies side by side from their curves.json, the values
checked by hand and, generated, against statistics over the seeds that reached a step."""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings, strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import compare_studies  # noqa: E402


def write_study(folder: Path, series: dict) -> Path:
    """A study folder whose curves.json holds ``series``: {name: {metric: [per-seed dict]}}."""
    folder.mkdir(parents=True)
    body = {name: {"seeds": list(range(len(next(iter(m.values()))))),
                   "curves": {k: {"per_seed": v} for k, v in m.items()}}
            for name, m in series.items()}
    (folder / "curves.json").write_text(json.dumps({"budgets": [], "series": body}))
    return folder


def test_table_by_hand(tmp_path):
    a = write_study(tmp_path / "study-a", {
        "gan": {"fid": [{"1000": 10.0, "2000": 6.0}, {"1000": 14.0}],
                "probe_100": [{"1000": 0.8}, {"1000": 0.9}]},
        "gan (no EMA)": {"fid": [{"1000": 99.0}, {"1000": 99.0}]}})
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/compare_studies.py"), str(a),
                          "--steps", "1000,2000", "--metrics", "fid,probe_100"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == ("| study / setting | fid at 1,000 | fid at 2,000 | probe_100 at 1,000 "
                      "| probe_100 at 2,000 |")
    # fid at 1,000: mean 12, sample std sqrt(8) = 2.83; at 2,000 one seed (std 0);
    # probe 0.8, 0.9 -> 85.00 ± 7.07 percent; no seed has a probe at 2,000
    assert out[2] == "| study-a / gan (2 seeds) | 12.00 ± 2.83 | 6.00 ± 0.00 | 85.00 ± 7.07 | – |"
    assert len(out) == 3  # the raw-G series is left out without --raw


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["1000", "2000", "3000"]),
                                st.floats(0, 100, allow_nan=False), min_size=0),
                min_size=1, max_size=5),
       st.sampled_from([1000, 2000, 3000]), st.booleans())
def test_cell_is_the_seeds_statistics(per_seed, step, percent):
    got = compare_studies.cell(per_seed, step, percent)
    vals = [s[str(step)] * (100 if percent else 1) for s in per_seed if str(step) in s]
    if not vals:
        assert got == "–"
        return
    mean, std = got.split(" ± ")
    assert abs(float(mean) - statistics.fmean(vals)) <= 0.005 + 1e-9 * abs(statistics.fmean(vals))
    want = statistics.stdev(vals) if len(vals) > 1 else 0.0
    assert abs(float(std) - want) <= 0.005 + 1e-9 * want
