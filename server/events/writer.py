"""Group commit: publishers hand events to one writer thread that stores everything waiting in one
durable transaction, so many concurrent producers share one fsync instead of paying one each."""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from server.errors import MiniflixError
from server.events import store

MAX_BATCH = 5000


@dataclass
class Pending:
    """Events of one `publish`/`publish_many` call: `(topic, partition, key, value_json)` each."""

    items: list[tuple[str, int, str, str]]
    done: Future[list[tuple[int, int]]] = field(default_factory=Future)


class GroupCommitter:
    """Owns the write connection; `submit` returns a future resolved once the batch is durable."""

    def __init__(self, path: Path, on_commit: Callable[[], None]) -> None:
        self._path = path
        self._db = store.connect(path)
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="event-log-writer", daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, pending: Pending) -> Future[list[tuple[int, int]]]:
        if self._closed:
            raise MiniflixError("The event log is closed.", hint="open it again with open_event_log()")
        self._queue.put(pending)
        return pending.done

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()
            self._db.close()

    def _run(self) -> None:
        while True:
            batch, stop = self._drain()
            if batch:
                self._commit(batch)
            if stop:
                return

    def _drain(self) -> tuple[list[Pending], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        batch, count = [first], len(first.items)
        while count < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
            count += len(item.items)
        return batch, False

    def _commit(self, batch: list[Pending]) -> None:
        try:
            results = self._write(batch)
        except Exception as exc:  # every waiting publisher must hear about it, not hang
            for pending in batch:
                pending.done.set_exception(exc)
            return
        self._on_commit()
        for pending, result in zip(batch, results, strict=True):
            pending.done.set_result(result)

    def _write(self, batch: list[Pending]) -> list[list[tuple[int, int]]]:
        with store.write_lock(self._path):
            return self._write_locked(batch)

    def _write_locked(self, batch: list[Pending]) -> list[list[tuple[int, int]]]:
        db, now = self._db, time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            heads: dict[tuple[str, int], int] = {}
            rows, results = [], []
            for pending in batch:
                result = []
                for topic, partition, key, value in pending.items:
                    offset = self._next(db, heads, topic, partition)
                    rows.append((topic, partition, offset, key, now, value))
                    result.append((partition, offset))
                results.append(result)
            db.executemany(store.INSERT_EVENT, rows)
            db.executemany("INSERT INTO heads (topic, partition, next_offset) VALUES (?, ?, ?) "
                           "ON CONFLICT DO UPDATE SET next_offset = excluded.next_offset",
                           [(t, p, o) for (t, p), o in heads.items()])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return results

    @staticmethod
    def _next(db: sqlite3.Connection, heads: dict[tuple[str, int], int], topic: str, partition: int) -> int:
        slot = (topic, partition)
        if slot not in heads:
            row = db.execute("SELECT next_offset FROM heads WHERE topic = ? AND partition = ?",
                             slot).fetchone()
            heads[slot] = row[0] if row else 0
        offset = heads[slot]
        heads[slot] = offset + 1
        return offset
