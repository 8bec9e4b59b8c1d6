"""Training's clock leaves out the time a process is stopped (SIGSTOP ... SIGCONT), and only
that: a study paused while tests ran once counted a 20-minute pause as training."""
import json
import signal
import subprocess
import sys
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from dfmgan.training.clock import FORGET, judge

CHILD = """
import json, time
from dfmgan.training.clock import active_clock
c = active_clock()
w0, a0 = time.perf_counter(), c.now()
print("ready", flush=True)
while time.perf_counter() - w0 < {run}:
    sum(range(10_000))  # busy, as a training step is
print(json.dumps({{"wall": time.perf_counter() - w0, "active": c.now() - a0}}), flush=True)
"""


def stopped_child(run: float, stop: float) -> dict:
    """A child busy for ``run`` s of wall time, stopped ``stop`` s of it: what its clock read."""
    p = subprocess.Popen([sys.executable, "-c", CHILD.format(run=run)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "ready"
    if stop:
        time.sleep(0.5)
        p.send_signal(signal.SIGSTOP)
        time.sleep(stop)
        p.send_signal(signal.SIGCONT)
    out = json.loads(p.stdout.readline())
    assert p.wait(timeout=60) == 0
    return out


def test_a_stop_is_left_out_and_nothing_else():
    stopped = stopped_child(run=4.5, stop=2.5)  # it runs on for 1.5 s after the SIGCONT
    assert 2.0 < stopped["wall"] - stopped["active"] < 3.0, stopped  # the stop, within a beat
    plain = stopped_child(run=1.5, stop=0)
    assert abs(plain["active"] - plain["wall"]) < 1e-3, plain  # no SIGCONT: nothing left out


gaps = st.lists(st.tuples(st.floats(0, 1000), st.floats(1, 100)), max_size=8)


@settings(max_examples=200, deadline=None)
@given(gaps, st.floats(-1, 1100), st.floats(0, 200))
def test_a_gap_is_a_stop_only_when_a_sigcont_came_after_it_began(found, last_cont, after):
    now = max([s + late for s, late in found], default=0) + after
    stopped, still = judge(found, last_cont, now)
    claimed = [late for s, late in found if s <= last_cont]
    assert stopped == sum(claimed)  # every claimed gap counts, whole
    assert all(s > last_cont for s, _ in still)  # a claimed gap is never kept to count twice
    assert sorted(still) == sorted(g for g in found if g[0] > last_cont and now - sum(g) < FORGET)


def test_a_training_run_stopped_for_seconds_does_not_count_them(tmp_path):
    """A run stopped for 4 s mid-training: no log window's time/train_s grows by the stop
    (before the clock, that window grew by all 4 s)."""
    from conftest import TINY_FLAGS

    out = tmp_path / "r"
    p = subprocess.Popen([sys.executable, "-m", "dfmgan", "train", "--preset", "digits",
                          "--steps", "100000", *TINY_FLAGS, "--out", str(out)],
                         stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def rows() -> list:
        path = out / "stats.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(ln) for ln in lines[:-1]]  # the last line may be half written

    try:
        deadline = time.monotonic() + 120
        while len(rows()) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        p.send_signal(signal.SIGSTOP)
        time.sleep(4)
        p.send_signal(signal.SIGCONT)
        seen = len(rows())
        while len(rows()) < seen + 20 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        p.send_signal(signal.SIGCONT)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=120)
    clock = [r["time/train_s"] for r in rows() if "time/train_s" in r]
    assert len(clock) >= 40
    windows = [b - a for a, b in zip(clock, clock[1:])]
    assert max(windows) < 2.5, sorted(windows)[-3:]
