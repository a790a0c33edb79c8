"""Time for the CDN simulation: the real clock, or a manual one that tests and simulations step."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """`now()` is epoch seconds (TTL, Age, event `at`); `sleep()` is a simulated wait (RTT, pacing)."""

    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time and real sleeps: what a running server uses."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to (or slept on): sleeps return at once, advance the time and
    add to `slept`, so simulated delays can be asserted exactly."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept = 0.0

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept += max(0.0, seconds)
            self._now += max(0.0, seconds)
