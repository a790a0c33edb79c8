"""The recorded trace: segments played through a real edge, its `cdn` events through the real event log
and analytics loader into DuckDB, read back in order and replayed; and the CLI over that data dir."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from server.cdn.clock import ManualClock
from server.cdn.edge import EdgeNode
from server.cdn.origin import StoreOrigin
from server.cdn.tokens import Signer
from server.errors import NotFound
from server.events.log import open_event_log
from server.labs.replay import replay
from server.labs.trace import recorded
from server.paths import DataDir
from tests.cdn.conftest import SPEC, VIDEO_ID, fetch, wait_for
from tests.jobs.helpers import cli
from tests.labs.conftest import recorded_trace

PLAYED = ["seg_000.m4s", "seg_001.m4s", "seg_000.m4s", "seg_001.m4s", "seg_000.m4s"]


@pytest.fixture
def played(data_dir: DataDir, origin: StoreOrigin, signer: Signer, clock: ManualClock) -> DataDir:
    """Five segment requests through a real edge (2 misses, 3 hits), their events in the real log."""
    with open_event_log(data_dir) as log:
        edge = EdgeNode(SPEC, origin, data_dir.root / "edge", signer, log, clock)
        edge.start()
        try:
            for name in PLAYED:
                clock.advance(1.0)
                status, _headers, _body = fetch(edge.url_for(VIDEO_ID, f"cmaf/90p/{name}"))
                assert status == 200
            # The edge records a request (and emits its event) after the last byte went out.
            served = sum(_published_size(data_dir, name) for name in PLAYED)
            wait_for(lambda: edge.health()["hit_bytes"] + edge.health()["miss_bytes"] == served)
            edge.events.flush()
            assert (edge.health()["hits"], edge.health()["misses"]) == (3, 2)
        finally:
            edge.stop()
    return data_dir


def test_the_recorded_trace_is_the_edges_requests_in_order_and_replays_to_the_same_hits(played) -> None:
    trace = recorded_trace(played)
    assert [trace.keys[i].rsplit("/", 1)[1] for i in trace.ids] == PLAYED
    assert set(trace.titles) == {VIDEO_ID}
    assert [trace.sizes[i] for i in trace.ids[:2]] == [_published_size(played, n) for n in PLAYED[:2]]
    assert replay(trace, "lru", SPEC.capacity_bytes).hits == 3     # what the edge itself counted


def _published_size(data: DataDir, name: str) -> int:
    return next(data.origin.rglob(name)).stat().st_size


def test_cli_replays_the_recorded_trace_as_json_and_csv(played, tmp_path: Path) -> None:
    out = tmp_path / "sweep.csv"
    done = cli("lab", "replay", "--data-dir", str(played.root), "--sizes", "1M,64M", "--policies",
               "lru,s3fifo", "--json", "--csv", str(out))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["trace"]["requests"] == 5 and result["trace"]["objects"] == 2
    assert {(p["policy"], p["hits"]) for p in result["points"] if p["cache_bytes"] == 64 * 2**20} == {
        ("lru", 3), ("s3fifo", 3), ("belady", 3)}
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6 and rows[0]["policy"] == "lru" and float(rows[0]["hit_ratio"]) == 0.6


def test_cli_without_recorded_requests_says_what_to_do(tmp_path: Path) -> None:
    done = cli("lab", "replay", "--data-dir", str(tmp_path / "empty"))
    assert done.returncode == 1
    assert "No edge requests recorded in" in done.stderr and "--trace zipf" in done.stderr


def test_cli_prints_a_table_for_a_generated_trace() -> None:
    done = cli("lab", "replay", "--trace", "sessions", "--requests", "3000", "--titles", "20", "--sizes",
               "16M,256M", "--policies", "lru,wtinylfu", "--edges", "2", "--target", "0.5")
    assert done.returncode == 0, done.stderr
    assert "MIN" in done.stdout and "wtinylfu" in done.stdout and "=> " in done.stdout


def test_recorded_on_an_empty_database_is_not_found(tmp_path: Path) -> None:
    import duckdb

    from server.analytics import loader

    conn = duckdb.connect(str(tmp_path / "a.duckdb"))
    loader.create(conn)
    with pytest.raises(NotFound, match="No edge requests recorded in the analytics database"):
        recorded(conn)
    conn.close()
