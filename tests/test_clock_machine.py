"""A training clock names its machine (``time/machine`` beside ``time/train_s``), and a
study's time-to-quality table compares the clocks of one machine only: a study resumed on
another machine, or one whose runs were trained on two, must not average their seconds."""
import json

import torch
from hypothesis import given, settings, strategies as st

from dfmgan.tools.study_report import machine_of, time_table, time_to_quality
from dfmgan.training import train
from dfmgan.training.stats import MACHINE, TRAIN_SECONDS, machine_code


def test_the_code_is_32_bits_stable_and_tells_thread_counts_apart():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = machine_code(torch.device("cpu"))
        assert one == machine_code(torch.device("cpu")) and 0 <= one < 2 ** 32
        assert float(one) == one  # exact in stats.jsonl's floats
        torch.set_num_threads(2)
        assert machine_code(torch.device("cpu")) != one
    finally:
        torch.set_num_threads(before)


def test_every_clocked_row_carries_this_machines_code(tmp_path, tiny_cfg):
    train(tiny_cfg(steps=4, log_every=2), tmp_path, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    clocked = [r for r in rows if TRAIN_SECONDS in r]
    assert [r["step"] for r in clocked] == [2, 4]
    assert all(r[MACHINE] == machine_code(torch.device("cpu")) for r in clocked)
    assert all(MACHINE not in r for r in rows if TRAIN_SECONDS not in r)
    assert machine_of(rows) == machine_code(torch.device("cpu"))
    assert machine_of(rows + [{"step": 5, MACHINE: 7.0}]) == "mixed"
    assert machine_of([{"step": 1, TRAIN_SECONDS: 1.0}]) is None  # a run from before the codes


MACHINES = st.sampled_from([None, 11, 22, "mixed"])


@settings(max_examples=80, deadline=None)
@given(gan=st.lists(MACHINES, min_size=1, max_size=4), dfm=st.lists(MACHINES, min_size=1, max_size=4))
def test_the_table_keeps_the_majority_machines_clocks(gan, dfm):
    """Every run reaches every mark at its first evaluation, at a clock unique to it; the
    table's mean must be the mean over the runs on the chosen machine, found by hand."""
    def series(machines, base):
        seeds = list(range(len(machines)))
        return {"seeds": seeds,
                "clock": {str(k): {1: float(base + k)} for k in seeds},
                "machine": {str(k): m for k, m in zip(seeds, machines)},
                "curves": {"fid": {"step": [1], "mean": [10.0],
                                   "per_seed": [{"1": 10.0} for _ in seeds]}}}
    got = time_to_quality({"gan": series(gan, 100), "dfm": series(dfm, 200),
                           "gan (no EMA)": series(gan, 100)})  # the same runs' raw G
    runs = [("gan", k, m) for k, m in enumerate(gan)] + [("dfm", k, m) for k, m in enumerate(dfm)]
    count = {m: sum(r[2] == m for r in runs) for m in (None, 11, 22)}
    best = max(count.values())
    expected = None if count[11] != best and count[22] != best else 11 if count[11] == best else 22
    if best == 0:
        expected = None
    assert got["machine"] == expected
    assert got["left_out"] == len(runs) - count[expected]
    for name, base, machines in (("gan", 100, gan), ("dfm", 200, dfm)):
        kept = [base + k for k, m in enumerate(machines) if m == expected]
        want = (sum(kept) / len(kept) if kept else None, len(kept))
        assert got["rows"][name] == [want] * 3, name
    text = time_table(got, {"gan": len(gan), "dfm": len(dfm), "gan (no EMA)": len(gan)})
    assert ("on another machine, or across machines, left out" in text) == (got["left_out"] > 0)
