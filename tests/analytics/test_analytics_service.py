"""Named analytics queries over a known history in a real DuckDB file; at-least-once without double
counting; a rebuild from the log gives the same numbers; exports."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from server.analytics.queries import QUERIES
from server.analytics.service import AnalyticsService
from server.errors import InvalidRequest, NotFound
from server.events.log import EventLog
from server.paths import DataDir
from tests.analytics.conftest import T0, play, publish_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def service(data: DataDir, log: EventLog):
    publish_scenario(log)
    svc = AnalyticsService(data, log)
    svc.catch_up()
    yield svc
    svc.stop()


def by(rows: list[dict], key: str) -> dict:
    return {r[key]: r for r in rows}


def test_engagement_per_title(service: AnalyticsService) -> None:
    rows = by(service.query("title_engagement"), "video_id")
    assert (rows["v1"]["views"], rows["v1"]["watch_hours"], rows["v1"]["completion"]) == (2, 0.025, 0.625)
    assert (rows["v2"]["views"], rows["v2"]["completion"]) == (1, 1.0)
    assert [r["video_id"] for r in service.query("title_engagement", video_id="v2")] == ["v2"]


def test_views_and_watch_time_per_time_bucket(service: AnalyticsService, log: EventLog) -> None:
    hour = int(T0 // 3600 * 3600)
    [only] = service.query("views_over_time")
    assert (only["bucket_start"], only["views"]) == (hour, 3)
    watched_hours = sum(r["watch_hours"] for r in service.query("title_engagement"))
    assert only["watch_minutes"] == round(watched_hours * 60, 2)
    play(log, "s9", "v2", "edge-b", "us", {"type": "started", "startup_ms": 250})
    later = {"type": "started", "startup_ms": 250, "at": T0 + 3600}
    log.publish("playback", "s10", {"session_id": "s10", "video_id": "v1", "edge": "edge-a", "region": "eu",
                                    "rendition": "360p", "bitrate": 800_000, **later})
    service.catch_up()
    rows = service.query("views_over_time", since=hour)
    assert [(r["bucket_start"], r["views"]) for r in rows] == [(hour, 4), (hour + 3600, 1)]
    assert [r["views"] for r in service.query("views_over_time", video_id="v1")] == [2, 1]
    [day] = service.query("views_over_time", bucket_s=86400)
    assert day["views"] == 5


def test_qoe_per_title_edge_and_region(service: AnalyticsService) -> None:
    v1 = by(service.query("qoe_by_title"), "video_id")["v1"]
    assert v1["startup_ms"] == 300.0
    assert v1["rebuffer_ratio"] == round(1000 / (1000 + 90_000), 5)
    assert v1["avg_bitrate"] == 1_900_000  # time-weighted over segments
    assert v1["switches_per_min"] == round(1 / 1.5, 3)
    edges = by(service.query("qoe_by_edge"), "edge")
    assert (edges["edge-a"]["sessions"], edges["edge-b"]["sessions"]) == (2, 1)
    assert by(service.query("qoe_by_region"), "region")["us"]["startup_ms"] == 200.0


def test_cache_hit_ratio_encode_cost_and_library(service: AnalyticsService) -> None:
    [edge] = service.query("cache_hit_ratio")
    assert (edge["edge"], edge["requests"], edge["hit_ratio"], edge["byte_hit_ratio"]) == \
        ("edge-a", 3, 0.6667, 0.5)
    [cost] = service.query("encode_cost")
    assert (cost["cpu_s_per_output_min"], cost["realtime_factor"], cost["chunks"], cost["retries"]) == \
        (15, 12, 3, 1)
    library = by(service.query("library_overview"), "rung")
    assert (library["(all)"]["titles"], library["(all)"]["storage_bytes"]) == (2, 70_000_000)  # v3 deleted
    assert library["(all)"]["hours"] == round(180 / 3600, 3)
    assert library["720p"]["titles"] == 1 and library["360p"]["titles"] == 2
    assert service.views() == {"v1": 2, "v2": 1}


def test_unknown_query_and_bad_parameter_are_refused(service: AnalyticsService) -> None:
    with pytest.raises(NotFound, match="No analytics query named 'nope'"):
        service.query("nope")
    with pytest.raises(InvalidRequest, match="no parameter 'colour'"):
        service.query("title_engagement", colour="red")
    with pytest.raises(InvalidRequest, match="must be int"):
        service.query("title_engagement", limit="many")


def test_every_named_query_runs_on_an_empty_store(data: DataDir, log: EventLog) -> None:
    svc = AnalyticsService(data, log)
    svc.catch_up()
    try:
        for name in QUERIES:
            rows = svc.query(name)
            assert isinstance(rows, list), name
    finally:
        svc.stop()


def test_moving_to_another_event_log_replays_it_rather_than_skipping_its_first_events(
        service: AnalyticsService, data: DataDir, tmp_path: Path) -> None:
    """Offsets are per log: the analytics file of the old log must not skip the new log's events
    whose offsets it had already passed (the server moved to a cluster's bus, or a new log file)."""
    before = service.query("views")
    service.stop()
    with EventLog(tmp_path / "other-log.sqlite") as other:
        play(other, "other-1", "vOther", "lon-1", "eu-west", {"type": "started", "startup_ms": 100})
        moved = AnalyticsService(data, other)
        try:
            moved.catch_up()
            assert [r["video_id"] for r in moved.query("views")] == ["vOther"], "only the new log's view"
        finally:
            moved.stop()
    assert before and "vOther" not in [r["video_id"] for r in before]


def test_replaying_the_whole_log_into_a_new_file_gives_the_same_numbers(service, data, log, tmp_path) -> None:
    rebuilt = AnalyticsService(data, log, path=tmp_path / "rebuilt.duckdb")
    try:
        assert rebuilt.catch_up() > 0
        for name in QUERIES:
            assert rebuilt.query(name) == service.query(name), name
    finally:
        rebuilt.stop()


CRASH_BEFORE_COMMIT = """
import os, sys
from pathlib import Path
from server.analytics.service import AnalyticsService
from server.events.log import EventLog, open_event_log
from server.paths import DataDir
EventLog.commit = lambda self, group, events: os._exit(9)  # the process dies right after loading
data = DataDir(Path(sys.argv[1]))
AnalyticsService(data, open_event_log(data)).catch_up()
"""


def test_consumer_killed_before_commit_redelivers_without_double_count(data: DataDir, log: EventLog) -> None:
    publish_scenario(log)
    crashed = subprocess.run([sys.executable, "-c", CRASH_BEFORE_COMMIT, str(data.root)], cwd=ROOT)
    assert crashed.returncode == 9
    assert log.committed("analytics") == {}, "the crash happened before the offsets were committed"
    svc = AnalyticsService(data, log)
    try:
        svc.catch_up()
        assert svc.views() == {"v1": 2, "v2": 1}
        assert svc.query("cache_hit_ratio")[0]["requests"] == 3
        assert log.committed("analytics") == log.heads(), "the log learns how far the store got"
    finally:
        svc.stop()


def test_replaying_events_already_loaded_counts_nothing_twice(service: AnalyticsService,
                                                              log: EventLog) -> None:
    log.seek("analytics", {slot: 0 for slot in log.heads()})
    assert service.catch_up() == 0
    assert service.views() == {"v1": 2, "v2": 1}
    assert service.query("cache_hit_ratio")[0]["requests"] == 3


def test_running_service_follows_new_events(data: DataDir, log: EventLog) -> None:
    svc = AnalyticsService(data, log)
    svc.start()
    try:
        publish_scenario(log)
        deadline = time.monotonic() + 30
        while svc.views() != {"v1": 2, "v2": 1} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert svc.views() == {"v1": 2, "v2": 1}
    finally:
        svc.stop()
    assert svc.error is None


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def read_back(path: Path, fmt: str) -> list[dict]:
    """An exported file's rows, read by DuckDB (typed) or by the csv module (text, as a user's tool)."""
    if fmt == "json":
        return json.loads(path.read_text())
    if fmt == "csv":
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    with duckdb.connect() as conn:
        result = conn.execute("SELECT * FROM read_parquet($path)", {"path": str(path)})
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_export_writes_the_query_rows(service: AnalyticsService, exports: Path, fmt: str) -> None:
    out = service.export("title_engagement", fmt, exports / f"engagement.{fmt}")
    expected = service.query("title_engagement")
    if fmt == "csv":
        expected = [{k: str(v) for k, v in row.items()} for row in expected]
    assert read_back(out, fmt) == expected
    assert [p.name for p in exports.iterdir()] == [f"engagement.{fmt}"], "no temp file left behind"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_into_a_folder_with_quotes_in_its_name(service: AnalyticsService, tmp_path: Path,
                                                      fmt: str) -> None:
    folder = tmp_path / "Bob's 'Q3' report"
    folder.mkdir()
    out = service.export("views", fmt, folder / f"views.{fmt}")
    assert [r["video_id"] for r in read_back(out, fmt)] == ["v1", "v2"]


def test_parquet_export_keeps_integer_sums_integers(service: AnalyticsService, tmp_path: Path) -> None:
    rows = read_back(service.export("library_overview", "parquet", tmp_path / "library.parquet"), "parquet")
    assert {r["rung"]: r["storage_bytes"] for r in rows}["(all)"] == 70_000_000
    assert all(type(r["storage_bytes"]) is int for r in rows)


def test_export_with_a_parameter_writes_only_the_matching_rows(service, tmp_path: Path) -> None:
    out = service.export("qoe_by_title", "csv", tmp_path / "v2.csv", video_id="v2")
    assert [r["video_id"] for r in read_back(out, "csv")] == ["v2"]


def test_export_refuses_bad_format_or_folder_and_leaves_nothing(service, exports: Path) -> None:
    with pytest.raises(InvalidRequest, match="Unknown export format"):
        service.export("views", "xlsx", exports / "v.xlsx")
    with pytest.raises(InvalidRequest, match="does not exist"):
        service.export("views", "csv", exports / "missing" / "v.csv")
    with pytest.raises(InvalidRequest, match="must be int"):
        service.export("title_engagement", "parquet", exports / "v.parquet", limit="many")
    assert list(exports.iterdir()) == []
