"""The Parquet lake of the event log: layout and schema, the same answers as the live database,
no double count on redelivery, compaction, and the clean-up after a crash (real files, real DuckDB)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from server.analytics import lake, lake_views, results
from server.analytics.lake_archiver import Archiver
from server.analytics.queries import QUERIES
from server.analytics.service import AnalyticsService
from server.errors import Conflict, InvalidRequest
from server.events.log import EventLog
from server.paths import DataDir
from tests.analytics.conftest import T0, publish_scenario
from tests.analytics.lake_compare import assert_same_rows
from tests.analytics.lake_scenario import VARIANTS, publish_generated
from tests.jobs.helpers import cli

LATER = T0 + 30 * 86400  # every generated hour is long closed by then


def archived(log: EventLog, path: Path, batch: int = 50_000) -> Archiver:
    archiver = Archiver(log, path, batch_size=batch)
    archiver.run_once(compact=False)
    return archiver


def lake_rows(path: Path, topic: str) -> list[tuple[int, int]]:
    """(partition, offset) of every event a reader of the lake sees."""
    found = lake.files(path, topic)
    if not found:
        return []
    sql = f"SELECT log_partition, log_offset FROM read_parquet({found}) ORDER BY ALL"
    return [tuple(r) for r in duckdb.execute(sql).fetchall()]


def log_rows(log: EventLog, topic: str) -> list[tuple[int, int]]:
    return sorted((p, o) for (t, p), head in log.heads([topic]).items() for o in range(head))


def test_files_are_partitioned_by_topic_and_hour_with_the_documented_columns(
        data: DataDir, log: EventLog) -> None:
    publish_scenario(log)
    path = data.root / "lake"
    archived(log, path).close()
    cdn = lake.visible_parts(path, "cdn")
    assert [p.path.relative_to(path).parent.as_posix() for p in cdn] == ["topic=cdn/hour=2023-11-14T22"]
    assert cdn[0].path.name == lake.part_name(cdn[0].partition, 0, 2)
    described = duckdb.execute(f"DESCRIBE SELECT * FROM read_parquet('{cdn[0].path}', "
                           "hive_partitioning = false)").fetchall()
    assert [(r[0], r[1]) for r in described] == [(c.name, c.type) for c in lake.columns("cdn")]
    hit = duckdb.execute(f"SELECT log_key, type, bytes, value FROM read_parquet('{cdn[0].path}') "
                     "ORDER BY log_offset LIMIT 1").fetchall()[0]
    assert hit[:3] == ("edge-a", "hit", 1000) and json.loads(hit[3])["object"] == "videos/v1/x.m4s"
    for topic in lake.TOPICS:  # every event once, the encode progress ticks included
        assert lake_rows(path, topic) == log_rows(log, topic), topic


def test_every_named_query_over_the_lake_equals_the_live_database(data: DataDir, log: EventLog) -> None:
    publish_scenario(log)
    publish_generated(log, sessions=150)
    path = data.root / "lake"
    archiver = archived(log, path, batch=97)  # many small files per hour
    live = AnalyticsService(data, log)
    live.catch_up()
    try:
        for stage in ("small files", "compacted"):
            with duckdb.connect() as conn:
                lake_views.attach_duckdb(conn, path)
                for name, params in [(q, {}) for q in QUERIES] + VARIANTS:
                    assert_same_rows(live.rows(name, **params), results.run(conn, name, **params),
                                     f"{name} {params} ({stage})")
            if stage == "small files":
                assert archiver.compact(now=LATER) > 0
    finally:
        live.stop()
        archiver.close()


def test_a_redelivered_batch_is_not_archived_twice(data: DataDir, log: EventLog) -> None:
    publish_scenario(log)
    path = data.root / "lake"
    archiver = Archiver(log, path)
    archiver.open()
    batch = log.poll("lake", lake.TOPICS, max_events=1000, timeout=0)
    assert archiver.archive(batch) == len(batch)
    assert archiver.archive(batch) == 0  # at-least-once delivery hands the same events again
    archiver.close()
    again = Archiver(log, path)  # and a restart rewinds to the lake's checkpoint, not before it
    assert again.run_once() == 0
    again.close()
    assert lake_rows(path, "playback") == log_rows(log, "playback")


def test_compaction_merges_a_closed_hour_into_one_file_per_partition(data: DataDir, log: EventLog) -> None:
    publish_generated(log, sessions=60)
    path = data.root / "lake"
    archiver = archived(log, path, batch=40)
    before = {t: lake_rows(path, t) for t in lake.TOPICS}
    assert archiver.compact(now=T0) == 0  # no hour has ended yet by this clock
    assert archiver.compact(now=LATER) > 0
    archiver.close()
    parts = lake.visible_parts(path, "playback")
    assert len({(p.hour, p.partition) for p in parts}) == len(parts)
    assert {t: lake_rows(path, t) for t in lake.TOPICS} == before
    assert not list(path.rglob(".*.tmp"))


def test_files_a_crash_left_are_ignored_by_readers_and_swept_on_restart(data: DataDir, log: EventLog) -> None:
    publish_generated(log, sessions=60)
    path = data.root / "lake"
    archiver = archived(log, path, batch=40)
    small = lake.visible_parts(path, "playback")
    aside = data.root / "aside"
    aside.mkdir()
    for part in small:
        shutil.copy2(part.path, aside / f"{part.hour}__{part.path.name}")
    archiver.compact(now=LATER)
    archiver.close()
    # A compaction cut short after its rename: the merged file and its inputs side by side,
    # plus a temp file of a write that never finished.
    for copy in aside.iterdir():
        hour, name = copy.name.split("__")
        shutil.copy2(copy, lake.hour_dir(path, "playback", hour) / name)
    half = lake.hour_dir(path, "playback", small[0].hour) / ".part-p0-000000999999-000000999999.parquet.tmp"
    half.write_bytes(b"PAR1 cut short")
    assert len(lake.all_parts(path, "playback")) > len(lake.visible_parts(path, "playback"))
    assert lake_rows(path, "playback") == log_rows(log, "playback")
    restarted = Archiver(log, path)
    restarted.open()  # sweeps
    restarted.close()
    assert lake.all_parts(path, "playback") == lake.visible_parts(path, "playback")
    assert not half.exists()
    assert lake_rows(path, "playback") == log_rows(log, "playback")


def test_one_archiver_per_lake(data: DataDir, log: EventLog) -> None:
    first = Archiver(log, data.root / "lake")
    first.open()
    with pytest.raises(Conflict, match="Another archiver"):
        Archiver(log, data.root / "lake").open()
    first.close()


def test_cli_archives_then_answers_from_the_lake_like_the_live_file(data: DataDir, log: EventLog) -> None:
    publish_scenario(log)
    done = cli("analytics", "archive", "--once", "--data-dir", str(data.root))
    assert done.returncode == 0, done.stderr
    assert "archived 21 events" in done.stderr
    from_lake = cli("analytics", "qoe_by_title", "--source", "lake", "--format", "json",
                    "--data-dir", str(data.root))
    live = cli("analytics", "qoe_by_title", "--format", "json", "--data-dir", str(data.root))
    assert from_lake.returncode == 0, from_lake.stderr
    assert json.loads(from_lake.stdout) == json.loads(live.stdout) != []


def test_cli_says_when_there_is_no_lake(data: DataDir, log: EventLog) -> None:
    done = cli("analytics", "views", "--source", "lake", "--data-dir", str(data.root))
    assert done.returncode == 1
    assert "No lake at" in done.stderr and "analytics archive --once" in done.stderr


def test_an_event_time_no_calendar_has_goes_by_log_time(data: DataDir, log: EventLog) -> None:
    log.publish("cdn", "edge-a", {"type": "hit", "edge": "edge-a", "bytes": 1, "at": T0 * 1000})  # ms
    path = data.root / "lake"
    archived(log, path).close()
    (part,) = lake.visible_parts(path, "cdn")
    stored_at = log.poll("check", ["cdn"], timeout=0)[0].timestamp
    assert part.hour == lake.hour_name(int(stored_at // 3600))
    assert lake_rows(path, "cdn") == log_rows(log, "cdn")


def test_a_lake_without_its_checkpoint_is_refused_not_emptied(data: DataDir, log: EventLog) -> None:
    publish_scenario(log)
    path = data.root / "lake"
    archived(log, path).close()
    (path / lake.CHECKPOINT).unlink()
    kept = lake.all_parts(path, "playback")
    with pytest.raises(InvalidRequest, match="no checkpoint"):
        Archiver(log, path).open()
    assert lake.all_parts(path, "playback") == kept
    second = Archiver(log, path)  # the refused one let go of the lake
    with pytest.raises(InvalidRequest):
        second.open()
