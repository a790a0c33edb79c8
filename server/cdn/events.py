"""Edges publish `cdn` events off the request path: a bounded queue drained by one thread per sink.
When the log falls 100,000 events behind, new events are dropped and counted (`dropped`, shown in
edge health) instead of making viewers wait on analytics."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from server.events.api import CDN, Publisher

log = logging.getLogger(__name__)
Value = dict[str, Any] | Callable[[], dict[str, Any]]
CLOSE_WAIT_S = 5.0


class EventSink:
    """Buffers events for a Publisher; `close()` flushes and stops the thread (idempotent)."""

    def __init__(self, publisher: Publisher | None, capacity: int = 100_000) -> None:
        self.publisher = publisher
        self._queue: queue.Queue[tuple[str, str, Value] | None] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.dropped = 0

    def emit(self, key: str, value: Value, topic: str = CDN) -> None:
        """Queue one event; `value` may be a function that builds it on the sink's thread (steering
        hands over its 100-candidate payload that way, off the decision's critical path)."""
        if self.publisher is None:
            return
        self._ensure_thread()
        try:
            self._queue.put_nowait((topic, key, value))
        except queue.Full:       # the log is far behind: drop and count rather than stall viewers
            self.dropped += 1

    def flush(self) -> None:
        """Wait until every event emitted so far was handed to the publisher."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=CLOSE_WAIT_S)
            thread.join(timeout=CLOSE_WAIT_S)     # a hung log must not hang the server's shutdown

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name="cdn-events", daemon=True)
                self._thread.start()

    def _drain(self) -> None:
        assert self.publisher is not None
        while (item := self._queue.get()) is not None:
            topic, key, value = item
            try:
                self.publisher.publish(topic, key, value() if callable(value) else value)
            except Exception:  # the log being down must not take the edge down
                log.exception("could not publish a cdn event")
            finally:
                self._queue.task_done()
        self._queue.task_done()
