"""Batch loading: a list of log events becomes one DuckDB transaction, one statement per topic.

Each topic's events cross into DuckDB as list parameters (raw JSON, and log offsets where the rows
keep them) that the statement unnests itself (`schema.STAGED`): no Arrow, no temp file, nothing
materialized and no per-row round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from server.analytics import demo_rows, schema
from server.events.model import Event
from server.transactions import explicit_transaction

Slot = tuple[str, int]


def create(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(schema.TABLES)
    for statement in schema.ADD_DEMO_COLUMNS:
        conn.execute(statement)
    conn.execute(schema.TITLES_VIEW)
    conn.execute(schema.TITLE_RUNGS_VIEW)
    conn.execute(schema.RUNG_QUALITY_VIEW)


def consumed_offsets(conn: duckdb.DuckDBPyConnection) -> dict[Slot, int]:
    """How far each log partition has been loaded (the position a restarted consumer resumes from)."""
    rows = conn.execute("SELECT topic, partition, next_offset FROM consumed").fetchall()
    return {(t, p): o for t, p, o in rows}


def loaded_from(conn: duckdb.DuckDBPyConnection) -> str | None:
    """The identity of the event log whose offsets `consumed` holds (None: a file made before it
    was recorded, or a new one)."""
    row = conn.execute("SELECT log_identity FROM loaded_from").fetchone()
    return str(row[0]) if row else None


def record_loaded_from(conn: duckdb.DuckDBPyConnection, identity: str) -> None:
    with explicit_transaction(conn):
        conn.execute("DELETE FROM loaded_from")
        conn.execute("INSERT INTO loaded_from VALUES (?)", [identity])


def fresh_only(events: Sequence[Event], consumed: dict[Slot, int]) -> list[Event]:
    """Drop events already loaded: at-least-once delivery never counts an event twice."""
    return [e for e in events if e.offset >= consumed.get((e.topic, e.partition), 0)]


def load(conn: duckdb.DuckDBPyConnection, events: Sequence[Event], consumed: dict[Slot, int]) -> int:
    """Load the not-yet-loaded events in one transaction; `consumed` is updated on success."""
    fresh = fresh_only(events, consumed)
    if not fresh:
        return 0
    advanced = next_offsets(fresh)
    with explicit_transaction(conn):  # all of a batch or none of it
        by_topic = _by_topic(fresh)
        for topic, rows in sorted(by_topic.items()):
            if topic in schema.LOADERS:
                _load_topic(conn, topic, rows)
        if removed := demo_rows.removals(by_topic.get("videos", ())):
            demo_rows.remove_batches(conn, removed)
        _advance_consumed(conn, advanced)
    for slot, offset in advanced.items():
        consumed[slot] = max(consumed.get(slot, 0), offset)
    return len(fresh)


def next_offsets(events: Sequence[Event]) -> dict[Slot, int]:
    """Per log partition, the offset after the last of `events` (where loading resumes)."""
    after: dict[Slot, int] = {}
    for e in events:
        slot = (e.topic, e.partition)
        after[slot] = max(after.get(slot, 0), e.offset + 1)
    return after


def _by_topic(events: Sequence[Event]) -> dict[str, list[Event]]:
    groups: dict[str, list[Event]] = {}
    for e in events:
        groups.setdefault(e.topic, []).append(e)
    return groups


def _load_topic(conn: duckdb.DuckDBPyConnection, topic: str, events: Sequence[Event]) -> None:
    """Insert the rows of `topic`, then roll the new rows up (rowids are dense: no deletes)."""
    rollup = schema.ROLLUPS.get(topic)
    first = _row_count(conn, rollup[0]) if rollup else 0
    for statement in schema.LOADERS[topic]:
        conn.execute(statement, _staged(statement, events))
    for statement in rollup[1] if rollup else ():
        conn.execute(statement, {"first": first})


def _staged(statement: str, events: Sequence[Event]) -> dict[str, list[Any]]:
    """The list parameters `statement` takes: the raw JSON always, the log offsets if it keeps them."""
    params: dict[str, list[Any]] = {"v": [e.value_json for e in events]}
    if "$offset" in statement:
        params["offset"] = [e.offset for e in events]
    return params


def _advance_consumed(conn: duckdb.DuckDBPyConnection, advanced: dict[Slot, int]) -> None:
    conn.execute(schema.ADVANCE_CONSUMED, {"topic": [t for t, _ in advanced],
                                           "partition": [p for _, p in advanced],
                                           "next_offset": list(advanced.values())})


def _row_count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    row = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0
