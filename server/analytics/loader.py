"""Batch loading: a list of log events becomes one Arrow table and one DuckDB transaction."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from server.analytics import schema
from server.events.model import Event

Slot = tuple[str, int]


def create(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(schema.TABLES)
    conn.execute(schema.TITLES_VIEW)


def consumed_offsets(conn: duckdb.DuckDBPyConnection) -> dict[Slot, int]:
    """How far each log partition has been loaded (the position a restarted consumer resumes from)."""
    rows = conn.execute("SELECT topic, partition, next_offset FROM consumed").fetchall()
    return {(t, p): o for t, p, o in rows}


def fresh_only(events: Sequence[Event], consumed: dict[Slot, int]) -> list[Event]:
    """Drop events already loaded: at-least-once delivery never counts an event twice."""
    return [e for e in events if e.offset >= consumed.get((e.topic, e.partition), 0)]


def load(conn: duckdb.DuckDBPyConnection, events: Sequence[Event], consumed: dict[Slot, int]) -> int:
    """Load the not-yet-loaded events in one transaction; `consumed` is updated on success."""
    fresh = fresh_only(events, consumed)
    if not fresh:
        return 0
    conn.register("staged", _arrow(fresh))
    try:
        conn.execute("BEGIN TRANSACTION")
        try:
            for topic in sorted({e.topic for e in fresh} & set(schema.LOADERS)):
                _load_topic(conn, topic)
            conn.execute(schema.ADVANCE_CONSUMED)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.unregister("staged")
    for e in fresh:
        slot = (e.topic, e.partition)
        consumed[slot] = max(consumed.get(slot, 0), e.offset + 1)
    return len(fresh)


def _load_topic(conn: duckdb.DuckDBPyConnection, topic: str) -> None:
    """Insert the staged rows of `topic`, then roll the new rows up (rowids are dense: no deletes)."""
    rollup = schema.ROLLUPS.get(topic)
    first = _row_count(conn, rollup[0]) if rollup else 0
    for statement in schema.LOADERS[topic]:
        conn.execute(statement)
    for statement in rollup[1] if rollup else ():
        conn.execute(statement, {"first": first})


def _row_count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    row = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _arrow(events: Sequence[Event]) -> pa.Table:
    return pa.table({
        "topic": pa.array([e.topic for e in events], pa.string()),
        "partition": pa.array([e.partition for e in events], pa.int32()),
        "offset": pa.array([e.offset for e in events], pa.int64()),
        "key": pa.array([e.key for e in events], pa.string()),
        "ts": pa.array([e.timestamp for e in events], pa.float64()),
        "v": pa.array([e.value_json for e in events], pa.string()),
    })
