"""Log housekeeping and inspection: retention by age or size per topic, and the offsets/lags table
behind `miniflix events`."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from server import config
from server.transactions import explicit_transaction

config.register("events_retention_hours", 24 * 7.0, "Events older than this are deleted from the log "
                "(per topic; consumers far behind skip to the oldest event kept).", float)
config.register("events_retention_mb", 1024.0, "Largest payload size kept per topic, in MiB; the "
                "oldest events go first.", float)


@dataclass(frozen=True)
class Retention:
    """Limits applied to every topic unless `per_topic` names one: `(max_age_s, max_bytes)`."""

    max_age_s: float | None = None
    max_bytes: int | None = None
    per_topic: dict[str, tuple[float | None, int | None]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls) -> Retention:
        return cls(config.get("events_retention_hours") * 3600,
                   int(config.get("events_retention_mb") * 1024 * 1024))

    def limits(self, topic: str) -> tuple[float | None, int | None]:
        return self.per_topic.get(topic, (self.max_age_s, self.max_bytes))


def apply_retention(db: sqlite3.Connection, retention: Retention, now: float | None = None) -> int:
    """Delete expired events; returns how many. Heads are untouched, so offsets stay unique."""
    now = time.time() if now is None else now
    deleted = 0
    for topic, partitions in db.execute("SELECT topic, partitions FROM topics").fetchall():
        max_age, max_bytes = retention.limits(topic)
        with explicit_transaction(db, "BEGIN IMMEDIATE"):
            if max_age is not None:
                deleted += db.execute("DELETE FROM events WHERE topic = ? AND ts < ?",
                                      (topic, now - max_age)).rowcount
            if max_bytes is not None:
                for partition in range(partitions):
                    deleted += _trim_partition(db, topic, partition, max_bytes // partitions)
    return deleted


def _trim_partition(db: sqlite3.Connection, topic: str, partition: int, budget: int) -> int:
    """Keep the newest events whose payloads fit in `budget` bytes."""
    row = db.execute("SELECT offset FROM (SELECT offset, SUM(LENGTH(value)) OVER (ORDER BY offset DESC) AS "
                     "kept FROM events WHERE topic = ? AND partition = ?) WHERE kept > ? "
                     "ORDER BY offset DESC LIMIT 1", (topic, partition, budget)).fetchone()
    if row is None:
        return 0
    return db.execute("DELETE FROM events WHERE topic = ? AND partition = ? AND offset <= ?",
                      (topic, partition, row[0])).rowcount


@dataclass(frozen=True)
class PartitionInfo:
    """One partition: first kept offset, next offset to be written, events kept, and group lags."""

    topic: str
    partition: int
    earliest: int
    next_offset: int
    kept: int
    lags: dict[str, int]


def describe(db: sqlite3.Connection) -> list[PartitionInfo]:
    """Every partition of every topic with the lag (`next_offset - committed`) of each consumer group
    that has committed on that topic."""
    stats = {(t, p): (lo, n) for t, p, lo, n in db.execute(
        "SELECT topic, partition, MIN(offset), COUNT(*) FROM events GROUP BY topic, partition")}
    heads = {(t, p): n for t, p, n in db.execute("SELECT topic, partition, next_offset FROM heads")}
    groups: dict[tuple[str, int], dict[str, int]] = {}
    for grp, t, p, n in db.execute("SELECT grp, topic, partition, next_offset FROM group_offsets"):
        groups.setdefault((t, p), {})[grp] = n
    out = []
    for topic, partitions in db.execute("SELECT topic, partitions FROM topics ORDER BY topic").fetchall():
        readers = sorted({g for (t, _), per in groups.items() if t == topic for g in per})
        for p in range(partitions):
            head = heads.get((topic, p), 0)
            earliest, kept = stats.get((topic, p), (head, 0))
            committed = groups.get((topic, p), {})
            lags = {g: head - committed.get(g, 0) for g in readers}
            out.append(PartitionInfo(topic, p, earliest, head, kept, lags))
    return out


def describe_dicts(db: sqlite3.Connection) -> list[dict[str, Any]]:
    return [asdict(info) for info in describe(db)]
