"""One background thread a service runs until it stops: the start/stop/join shape every follower,
archiver and prober of the engine shares, written once."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Worker:
    """A named daemon thread running `loop` until `stop()`. The loop watches `stopping` (its
    `is_set()` between batches, its `wait(s)` as an interruptible pause). Starting a running worker
    does nothing; a stopped one, or one whose loop has ended, starts again."""

    def __init__(self, name: str, loop: Callable[[], None], *, join_timeout_s: float | None = None) -> None:
        """`join_timeout_s`: how long `stop()` waits for the loop (None: until it ends)."""
        self.name = name
        self.stopping = threading.Event()
        self._loop = loop
        self._join_timeout_s = join_timeout_s
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if not self.running:
            self.stopping.clear()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end and wait for it. Idempotent."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(self._join_timeout_s)
            self._thread = None
