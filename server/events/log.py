"""The embedded partitioned event log (Kafka-like guarantees in one SQLite WAL file).

- `publish(topic, key, value) -> (partition, offset)`: the key's crc32 picks the partition, so one
  video's (or session's) events stay in order; offsets are dense and never reused; durable on return.
- consumer groups: `poll` continues from the group's position (its last `commit` after a restart:
  at-least-once); a new group starts at the beginning (replay) or, with `start="latest"`, at the end.
- safe from many threads (one group-commit writer per instance) and many processes (SQLite locks).
- a waiting `poll` wakes on a commit of its own process (a condition) or of another process (a
  datagram doorbell, doorbell.py), not at the next turn of a polling loop.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from server.errors import InvalidRequest
from server.events import admin, store
from server.events.doorbell import Doorbell
from server.events.model import Event, check_topic, encode_value, partition_for
from server.events.writer import GroupCommitter, Pending
from server.paths import DataDir

Slot = tuple[str, int]  # (topic, partition)
CROSS_PROCESS_CHECK_S = 0.05  # no doorbell: how often a waiting poll looks for other processes' commits
DOORBELL_SAFETY_S = 1.0  # with one: a last resort, should a ring ever be lost
HOUSEKEEPING_S = 60.0


class EventLog:
    """Implements `server.events.api.Publisher`; see the module docstring for the guarantees."""

    def __init__(self, path: Path, partitions: int = 8, *, retention: admin.Retention | None = None) -> None:
        if partitions < 1:
            raise InvalidRequest(f"An event log needs at least one partition, not {partitions}.")
        self.path = Path(path)
        self.partitions = partitions
        self.retention = retention if retention is not None else admin.Retention.from_settings()
        store.create_schema(self.path)
        self._conns = store.Connections(self.path)
        self._topics: dict[str, int] = {}
        self._positions: dict[str, dict[Slot, int]] = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._commits = 0
        self._last_housekeeping = 0.0
        self._writer = GroupCommitter(self.path, self._on_commit)
        self._doorbell = Doorbell(self.path, self._on_ring)
        self._closed = False

    # -- producing -------------------------------------------------------------------------------
    def publish(self, topic: str, key: str, value: dict[str, Any]) -> tuple[int, int]:
        """Store one event durably; returns its `(partition, offset)`."""
        return self.publish_many(topic, [(key, value)])[0]

    def publish_many(self, topic: str, items: Iterable[tuple[str, dict[str, Any]]]) -> list[tuple[int, int]]:
        """Store several events of one topic in one durable transaction, in the given order."""
        return self.publish_async(topic, items).result()

    def publish_async(self, topic: str, items: Iterable[tuple[str, dict[str, Any]]]
                      ) -> Future[list[tuple[int, int]]]:
        """Like `publish_many` without waiting (Kafka's `send`): the future resolves once the events
        are durable, so a producer can keep several batches in flight. Per-key order is kept."""
        n = self.partitions_of(topic)
        keys, values = [], []
        for key, value in items:  # encoded here, in the producer's thread, not in the writer's
            keys.append(str(key))
            values.append(encode_value(topic, value))
        if not keys:
            done: Future[list[tuple[int, int]]] = Future()
            done.set_result([])
            return done
        return self._writer.submit(Pending(topic, n, [partition_for(k, n) for k in keys], keys, values))

    def identity(self) -> str:
        """Which log this is (made with the file): a consumer that keeps its own offsets (analytics)
        checks it, since the same (topic, partition, offset) names another event in another log."""
        return store.identity(self._conns.get())

    def partitions_of(self, topic: str) -> int:
        """The topic's partition count, fixed when it was first used (by any process)."""
        n = self._topics.get(check_topic(topic))
        if n is None:
            db = self._conns.get()
            row = db.execute("SELECT partitions FROM topics WHERE topic = ?", (topic,)).fetchone()
            if row is None:
                self._register_topic(db, topic)
                row = db.execute("SELECT partitions FROM topics WHERE topic = ?", (topic,)).fetchone()
            n = self._topics[topic] = row[0]
        return n

    def _register_topic(self, db: sqlite3.Connection, topic: str) -> None:
        """In a write transaction like every writer's (seen failing as an autocommit INSERT when 8
        producer processes started together)."""
        with store.write_transaction(db, self.path):
            db.execute("INSERT OR IGNORE INTO topics (topic, partitions, created_at) VALUES (?, ?, ?)",
                       (topic, self.partitions, time.time()))

    # -- consuming -------------------------------------------------------------------------------
    def poll(self, group: str, topics: Sequence[str], max_events: int = 500, timeout: float = 1.0,
             *, start: str = "earliest") -> list[Event]:
        """Up to `max_events` events after the group's position, waiting up to `timeout` seconds for
        the first one. Positions advance in memory; `commit` makes them survive a restart."""
        slots = self._slots(group, topics, start)
        deadline = time.monotonic() + max(0.0, timeout)
        version = self._data_version()
        while True:
            seen = self._commits
            events = self._fetch(group, slots, max_events)
            remaining = deadline - time.monotonic()
            if events or remaining <= 0:
                return events
            version = self._wait(seen, version, remaining)

    def commit(self, group: str, events_or_offsets: Iterable[Event] | Mapping[Slot, int]) -> None:
        """Record the group's progress: after events, or explicit `{(topic, partition): next_offset}`."""
        offsets = next_offsets(events_or_offsets)
        if not offsets:
            return
        now, db = time.time(), self._conns.get()
        with store.write_transaction(db, self.path):
            db.executemany("INSERT INTO group_offsets (grp, topic, partition, next_offset, updated_at) "
                           "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET next_offset = "
                           "excluded.next_offset, updated_at = excluded.updated_at",
                           [(group, t, p, o, now) for (t, p), o in offsets.items()])
        with self._lock:
            self._positions.setdefault(group, {}).update(offsets)

    def seek(self, group: str, offsets: Mapping[Slot, int]) -> None:
        """Move this instance's position of `group` (not committed): e.g. a consumer whose own store
        says how far it got, or a rebuild that wants a replay from 0."""
        with self._lock:
            self._positions.setdefault(group, {}).update(offsets)

    def forget(self, group: str) -> None:
        """Drop this instance's in-memory position of `group` (its committed offsets stay): a
        consumer that ends, such as one event-stream connection, leaves nothing behind."""
        with self._lock:
            self._positions.pop(group, None)

    def groups_in_memory(self) -> list[str]:
        """Groups this instance holds a position for (committed or not), for diagnostics."""
        with self._lock:
            return sorted(self._positions)

    def committed(self, group: str) -> dict[Slot, int]:
        rows = self._conns.get().execute("SELECT topic, partition, next_offset FROM group_offsets "
                                         "WHERE grp = ?", (group,)).fetchall()
        return {(t, p): o for t, p, o in rows}

    def heads(self, topics: Sequence[str] | None = None) -> dict[Slot, int]:
        """Next offset to be written in every partition of `topics` (default: all topics)."""
        rows = self._conns.get().execute("SELECT topic, partitions FROM topics").fetchall()
        got = dict(self._conns.get().execute("SELECT topic || ':' || partition, next_offset FROM heads"))
        return {(t, p): got.get(f"{t}:{p}", 0) for t, n in rows if topics is None or t in topics
                for p in range(n)}

    # -- housekeeping ----------------------------------------------------------------------------
    def enforce_retention(self, now: float | None = None) -> int:
        """Delete events past their topic's age or size limit now; returns how many went."""
        return admin.apply_retention(self._conns.get(), self.retention, now)

    def describe(self) -> list[admin.PartitionInfo]:
        return admin.describe(self._conns.get())

    def close(self) -> None:
        """Finish pending publishes, then release the files. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        self._doorbell.close()
        with self._cond:
            self._cond.notify_all()
        self._conns.close_all()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------
    def _on_commit(self) -> None:
        self._on_ring()
        self._doorbell.ring()
        if time.monotonic() - self._last_housekeeping > HOUSEKEEPING_S:
            self._last_housekeeping = time.monotonic()
            self.enforce_retention()

    def _on_ring(self) -> None:
        """A commit happened (here or, through the doorbell, in another process): wake the waiters."""
        with self._cond:
            self._commits += 1
            self._cond.notify_all()

    def _slots(self, group: str, topics: Sequence[str], start: str) -> list[Slot]:
        if start not in ("earliest", "latest"):
            raise InvalidRequest(f"start must be 'earliest' or 'latest', not {start!r}.")
        slots = [(t, p) for t in topics for p in range(self.partitions_of(t))]
        with self._lock:
            positions = self._positions.setdefault(group, {})
            missing = [s for s in slots if s not in positions]
        if missing:
            committed = self.committed(group)
            heads = self.heads(topics) if start == "latest" else {}
            with self._lock:
                for slot in missing:
                    positions.setdefault(slot, committed.get(slot, heads.get(slot, 0)))
        return slots

    def _fetch(self, group: str, slots: list[Slot], max_events: int) -> list[Event]:
        db = self._conns.get()
        with self._lock:
            positions = dict(self._positions[group])
        events: list[Event] = []
        for topic, partition in _rotated(slots, self._commits):
            want = max_events - len(events)
            if want <= 0:
                break
            rows = db.execute(store.READ_PARTITION, (topic, partition, positions[(topic, partition)],
                                                     want)).fetchall()
            events += Event.stored(topic, partition, rows)
        with self._lock:
            group_pos = self._positions[group]
            for e in events:
                group_pos[(e.topic, e.partition)] = max(group_pos[(e.topic, e.partition)], e.offset + 1)
        return events

    def _wait(self, seen: int, version: int, remaining: float) -> int:
        """Sleep until this process commits, another process commits, or time is up."""
        end = time.monotonic() + remaining
        check = DOORBELL_SAFETY_S if self._doorbell.start() else CROSS_PROCESS_CHECK_S
        while not self._closed:
            with self._cond:
                if self._commits != seen:
                    return version
                self._cond.wait(min(check, max(0.0, end - time.monotonic())))
            now_version = self._data_version()
            if now_version != version or self._commits != seen or time.monotonic() >= end:
                return now_version
        return version

    def _data_version(self) -> int:
        """Changes whenever another connection (any process) committed to the file."""
        return int(self._conns.get().execute("PRAGMA data_version").fetchone()[0])


def _rotated(slots: list[Slot], turn: int) -> list[Slot]:
    """Start each poll at a different partition so a busy one cannot starve the others."""
    k = turn % len(slots) if slots else 0
    return slots[k:] + slots[:k]


def next_offsets(source: Iterable[Event] | Mapping[Slot, int]) -> dict[Slot, int]:
    """The offset to commit per partition: given as-is, or one past the last event seen in each."""
    if isinstance(source, Mapping):
        return {(str(t), int(p)): int(o) for (t, p), o in source.items()}
    offsets: dict[Slot, int] = {}
    for e in source:
        slot = (e.topic, e.partition)
        offsets[slot] = max(offsets.get(slot, 0), e.offset + 1)
    return offsets


def open_event_log(data: DataDir) -> EventLog:
    """The data dir's log (`events.sqlite`), with retention from the settings."""
    return EventLog(data.events_db)
