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
from server.transactions import explicit_transaction

MAX_BATCH = 5000
ROWS_PER_STATEMENT = 4096  # at most; fewer if SQLite binds fewer parameters per statement


@dataclass
class Pending:
    """Events of one `publish`/`publish_many` call to `topic` (of `partition_count` partitions): the
    i-th event has `partitions[i]`, `keys[i]` and the JSON `values[i]`. One future for the call."""

    topic: str
    partition_count: int
    partitions: list[int]
    keys: list[str]
    values: list[str]
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
        # Next offsets as of this writer's last commit, valid while no other connection has committed
        # since (`PRAGMA data_version` unchanged): saves reading them in every transaction.
        self._heads: dict[str, list[int]] = {}
        self._version: int | None = None
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
        batch, count = [first], len(first.keys)
        while count < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
            count += len(item.keys)
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
        """Few statements per transaction: the sqlite3 module releases the GIL around each step, and
        with busy producer threads taking it back can wait a whole switch interval (5 ms)."""
        db, now = self._db, time.time()
        try:
            with explicit_transaction(db, "BEGIN IMMEDIATE"):
                heads = self._current_heads(db, batch)
                rows: list[object] = []
                results = [_place(p, heads[p.topic], now, rows) for p in batch]
                _insert(db, rows)
                slots = [(t, p, o) for t, offsets in heads.items() for p, o in enumerate(offsets)]
                db.execute(store.upsert_heads(len(slots)), [v for slot in slots for v in slot])
        except BaseException:
            self._heads, self._version = {}, None  # the cached heads may be ahead of the file now
            raise
        self._heads.update(heads)
        return results

    def _current_heads(self, db: sqlite3.Connection, batch: list[Pending]) -> dict[str, list[int]]:
        """Copies of the next offsets of the batch's topics (read again if another connection wrote)."""
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._heads, self._version = {}, version
        heads = {}
        for pending in batch:
            if pending.topic not in heads:
                cached = self._heads.get(pending.topic)
                heads[pending.topic] = (list(cached) if cached is not None
                                        else _heads(db, pending.topic, pending.partition_count))
        return heads


def _heads(db: sqlite3.Connection, topic: str, count: int) -> list[int]:
    """The next offset of each of the topic's partitions, read once per transaction."""
    offsets = [0] * count
    for partition, offset in db.execute("SELECT partition, next_offset FROM heads WHERE topic = ?", (topic,)):
        if partition < count:
            offsets[partition] = offset
    return offsets


def _place(pending: Pending, offsets: list[int], now: float, rows: list[object]) -> list[tuple[int, int]]:
    """Give each event of `pending` the next offset of its partition; append its row's columns."""
    topic, placed = pending.topic, []
    for partition, key, value in zip(pending.partitions, pending.keys, pending.values, strict=True):
        offset = offsets[partition]
        offsets[partition] = offset + 1
        rows += (topic, partition, offset, key, now, value)
        placed.append((partition, offset))
    return placed


def _insert(db: sqlite3.Connection, columns: list[object]) -> None:
    """Insert the rows (6 columns each, flat) with multi-row statements: one step per statement
    instead of one per row, and the sqlite3 module releases and retakes the GIL around each step,
    which with busy producer threads costs more than the insert itself. Statement sizes are powers
    of two, so the few distinct statements stay in the connection's cache."""
    most = min(ROWS_PER_STATEMENT, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // store.EVENT_COLUMNS)
    start, rows = 0, len(columns) // store.EVENT_COLUMNS
    while rows:
        size = 1 << (min(rows, most).bit_length() - 1)
        end = start + size * store.EVENT_COLUMNS
        db.execute(store.insert_events(size), columns[start:end])
        start, rows = end, rows - size
