"""Training's clock: wall time less the time the process was stopped.

A run stopped with SIGSTOP (a study paused while tests run) or Ctrl-Z goes on counting on
every wall clock, so its ``time/train_s``, and a study's time to quality, would count the
pause as training (a 50-step window of a study once read 52 times its median). No clock
leaves a stop out: CLOCK_MONOTONIC counts it, and a process's CPU time leaves it out but is
the sum over threads and not a GPU's time. So a heartbeat thread measures stops: it sleeps
``BEAT`` seconds at a time, and a wake later than ``SLACK`` is a gap. A stop always ends in
SIGCONT, so a gap counts as stopped only if a SIGCONT was handled after it began; a gap
with none within ``FORGET`` seconds was the machine's load or the GIL (training's time).
"""
from __future__ import annotations

import math
import signal
import threading
import time

BEAT = 0.25  # seconds between heartbeats
SLACK = 1.0  # a heartbeat later than this is a gap: a stop, or load
FORGET = 60.0  # a gap no SIGCONT claims by then was load (the handler waits for the main thread)


def judge(gaps: list[tuple[float, float]], last_cont: float, now: float):
    """(seconds stopped, gaps still open) of ``gaps`` [(start, seconds late)]: a gap that began
    at or before the last SIGCONT was a stop; one that is older than FORGET was load."""
    stopped = sum(late for start, late in gaps if start <= last_cont)
    still = [(s, late) for s, late in gaps if s > last_cont and now - (s + late) < FORGET]
    return stopped, still


class ActiveClock:
    """``now()``: ``time.perf_counter()`` less the seconds the process spent stopped."""

    def __init__(self):
        self.lock = threading.Lock()
        self.gaps: list[tuple[float, float]] = []
        self.stopped, self.last_cont = 0.0, -math.inf
        self.beat_start = math.inf  # when the heartbeat's current sleep began
        self.watching = threading.current_thread() is threading.main_thread()
        if self.watching:  # signal handlers can only be set from the main thread
            self.previous = signal.signal(signal.SIGCONT, self._on_cont)
            threading.Thread(target=self._beat, daemon=True, name="dfmgan-clock").start()

    def _on_cont(self, signum, frame) -> None:
        self.last_cont = time.perf_counter()
        if callable(self.previous):  # whoever handled SIGCONT before still does
            self.previous(signum, frame)

    def _beat(self) -> None:
        while True:
            with self.lock:
                self.beat_start = time.perf_counter()
            time.sleep(BEAT)
            with self.lock:
                late = time.perf_counter() - self.beat_start - BEAT
                if late > SLACK:
                    self.gaps.append((self.beat_start, late))

    def now(self) -> float:
        t = time.perf_counter()
        with self.lock:
            late = t - self.beat_start - BEAT
            if late > SLACK and self.beat_start <= self.last_cont:
                # read just after a SIGCONT, before the heartbeat woke: its gap so far counts
                # now, and the heartbeat counts only the rest
                self.gaps.append((self.beat_start, late))
                self.beat_start = t - BEAT
            stopped, self.gaps = judge(self.gaps, self.last_cont, t)
            self.stopped += stopped
            return t - self.stopped


_CLOCK: ActiveClock | None = None


def active_clock() -> ActiveClock:
    """The process's one clock (one SIGCONT handler and one heartbeat, however many runs)."""
    global _CLOCK
    main = threading.current_thread() is threading.main_thread()
    if _CLOCK is None or (main and not _CLOCK.watching):  # a clock made off the main thread
        _CLOCK = ActiveClock()                              # cannot see stops: replace it there
    return _CLOCK
