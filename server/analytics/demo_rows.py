"""Taking a demo batch (server/demo_week.py) out of the analytics file when its removal event loads.

Cache and steering rows are deleted. Playback rows are copied into a fresh table without the batch
(the loader rolls new rows up by rowid, which a DELETE would leave with holes) and the hourly
rollups are recomputed from what is left. Removal is rare and the tables are a desktop's, so the copy
is cheap; it runs in the batch's transaction, so a crash leaves the file as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from server.analytics import schema
from server.events.model import Event

REMOVED_TYPE = "demo_removed"


def removals(events: Sequence[Event]) -> list[tuple[str, float]]:
    """The demo batches whose removal is among `events` (videos topic), with when."""
    out = []
    for event in events:
        if REMOVED_TYPE not in event.value_json:     # decode only the rare candidates
            continue
        value: dict[str, Any] = event.value
        batch = value.get("batch")
        if value.get("type") == REMOVED_TYPE and isinstance(batch, str):
            out.append((batch, float(value.get("at") or 0.0)))
    return out


def remove_batches(conn: duckdb.DuckDBPyConnection, batches: Sequence[tuple[str, float]]) -> None:
    """Record the removals and drop every row of those batches (call inside the load transaction)."""
    conn.executemany("INSERT OR IGNORE INTO demo_removed VALUES (?, ?)", [list(b) for b in batches])
    removed = "demo IN (SELECT batch FROM demo_removed)"
    for table in ("cdn_events", "steering_decisions"):
        conn.execute(f"DELETE FROM {table} WHERE {removed}")
    conn.execute(f"CREATE TABLE playback_kept AS SELECT * FROM playback_events "
                 f"WHERE demo IS NULL OR NOT {removed} ORDER BY rowid")
    conn.execute("DROP TABLE playback_events")
    conn.execute("ALTER TABLE playback_kept RENAME TO playback_events")
    for dimension in schema.ROLLUP_DIMENSIONS:
        table = schema.rollup_table(dimension)
        conn.execute(f"DELETE FROM {table}")
        conn.execute(schema.ROLLUP_ALL[dimension])
