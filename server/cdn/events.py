"""Edges publish `cdn` events off the request path: a bounded queue drained by one thread per sink.
When the log falls 100,000 events behind, new events are dropped and counted (`dropped`, shown in
edge health) instead of making viewers wait on analytics."""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from server.events.api import CDN, Publisher

log = logging.getLogger(__name__)
Value = dict[str, Any] | Callable[[], dict[str, Any]]
CLOSE_WAIT_S = 5.0
BATCH = 500


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
        """Take whatever is queued (up to BATCH) and publish it topic by topic, in order: one durable
        commit per batch instead of per event, so the log keeps up with thousands of requests/s."""
        done = False
        while not done:
            batch = [self._queue.get()]
            while len(batch) < BATCH and batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = batch[-1] is None
            items = [item for item in batch if item is not None]
            try:
                self._publish(items)
            except Exception:  # the log being down must not take the edge down
                log.exception("could not publish %d cdn events", len(items))
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _publish(self, items: list[tuple[str, str, Value]]) -> None:
        assert self.publisher is not None
        many = getattr(self.publisher, "publish_many", None)
        for topic, run in itertools.groupby(items, key=lambda item: item[0]):
            events = [(key, value() if callable(value) else value) for _, key, value in run]
            if many is not None:
                many(topic, events)
            else:
                for key, value in events:
                    self.publisher.publish(topic, key, value)
