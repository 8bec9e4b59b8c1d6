"""SIGINT/SIGTERM ask the loop to stop after the current step; the loop then writes a
checkpoint and returns. A second SIGINT interrupts at once (the last checkpoint stays)."""
from __future__ import annotations

import signal
import threading


class StopFlag:
    def __init__(self):
        self.signum: int | None = None
        self._old: dict[int, object] = {}

    def _handle(self, signum, frame):
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __bool__(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
