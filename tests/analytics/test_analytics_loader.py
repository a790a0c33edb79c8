"""The batch loader on a real DuckDB file: a mixed batch lands in every table in one transaction, and
a batch with one bad event leaves nothing behind (rows, rollups and offsets untouched)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from server.analytics import loader
from server.events.model import Event


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    db = duckdb.connect(str(tmp_path / "analytics.duckdb"))
    loader.create(db)
    yield db
    db.close()


def event(topic: str, partition: int, offset: int, **value: Any) -> Event:
    return Event(topic, partition, offset, str(value.get("video_id", "k")), 0.0, json.dumps(value))


def count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchall()[0][0])


def started(partition: int, offset: int, session: str) -> Event:
    return event("playback", partition, offset, type="started", session_id=session, video_id="v1",
                 edge="edge-a", region="eu", at=3600.0, startup_ms=250)


def test_a_mixed_batch_lands_in_every_table_and_advances_each_partition(conn) -> None:
    batch = [event("videos", 0, 7, type="published", video_id="v1", at=1.0, title={"title": "Cats"}),
             started(1, 40, "s1"), started(2, 3, "s2"), started(1, 41, "s3"),
             event("cdn", 0, 0, type="hit", edge="edge-a", region="eu", bytes=1000, at=2.0),
             event("encode", 0, 5, type="task_progress", video_id="v1", at=1.0),
             event("jobs", 0, 9, type="no analytics table for this topic")]
    consumed: dict[tuple[str, int], int] = {}
    assert loader.load(conn, batch, consumed) == 7
    assert conn.execute("SELECT video_id, seq FROM video_events").fetchall() == [("v1", 7)]
    assert [count(conn, t) for t in ("playback_events", "cdn_events", "encode_events")] == [3, 1, 0]
    assert conn.execute("SELECT started, startup_ms FROM playback_by_title").fetchall() == [(3, 750.0)]
    expected = {("videos", 0): 8, ("playback", 1): 42, ("playback", 2): 4, ("cdn", 0): 1, ("encode", 0): 6,
                ("jobs", 0): 10}
    assert consumed == expected and loader.consumed_offsets(conn) == expected


def test_a_batch_with_one_malformed_event_loads_nothing(conn) -> None:
    bad = Event("videos", 0, 0, "v1", 0.0, '{"type": "published", "video_id": ')  # loaded after playback
    consumed: dict[tuple[str, int], int] = {}
    with pytest.raises(duckdb.Error):
        loader.load(conn, [started(1, 0, "s0"), started(1, 1, "s1"), bad], consumed)
    assert consumed == {} and loader.consumed_offsets(conn) == {}
    assert (count(conn, "playback_events"), count(conn, "playback_by_title")) == (0, 0)
    assert loader.load(conn, [started(1, 0, "s0"), started(1, 1, "s1")], consumed) == 2
    assert conn.execute("SELECT started FROM playback_by_title").fetchall() == [(2,)]


def test_events_already_loaded_are_skipped_within_a_batch(conn) -> None:
    consumed: dict[tuple[str, int], int] = {}
    loader.load(conn, [started(0, 0, "s0"), started(0, 1, "s1")], consumed)
    assert loader.load(conn, [started(0, 1, "s1"), started(0, 2, "s2")], consumed) == 1
    assert count(conn, "playback_events") == 3 and consumed == {("playback", 0): 3}
