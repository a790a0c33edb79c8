"""The demo week: a generated week of viewing of a REAL published title (its real segment sizes)
through the real edges' cache policies, loaded by the real analytics; every chart of the Analytics
view has something to say, and removing it leaves real viewing exactly as it was."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from server.analytics import schema
from server.analytics.service import AnalyticsService
from server.catalog import Catalog
from server.cdn.topology import Topology
from server.demo_week import DemoWeek, generate, published_ladders, remove, seed
from server.errors import InvalidRequest
from server.events.api import CDN, PLAYBACK
from server.events.log import EventLog, open_event_log
from server.paths import DataDir
from server.storage.blobstore import LocalBlobStore
from tests.http.conftest import Made, encode_title, publish
from tests.jobs.helpers import cli, json_lines

END = 1_796_601_600.0          # a Thursday, 00:00 UTC: the seeded days are fixed whatever today is
DAY = 86400


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A 12 s title (12 one-second segments, two rungs) from the real ingest."""
    return encode_title(tmp_path_factory.mktemp("demo-title"), 12)


@pytest.fixture
def data(tmp_path: Path, made: Made) -> DataDir:
    data = DataDir.resolve(tmp_path / "data")
    publish(data, made)
    return data


@pytest.fixture
def log(data: DataDir) -> Any:
    with open_event_log(data) as opened:
        yield opened


@pytest.fixture
def analytics(data: DataDir, log: EventLog) -> Any:
    service = AnalyticsService(data, log)
    yield service
    service.stop()


def ladders(data: DataDir) -> list[Any]:
    return published_ladders(Catalog(data.catalog_db), LocalBlobStore(data.origin))


def seed_week(data: DataDir, log: EventLog, **plan: Any) -> Any:
    return seed(log, ladders(data), Topology.default(), DemoWeek(end=END, **plan))


def real_viewing(log: EventLog) -> None:
    """One real session and one real edge hit, as a player and an edge publish them."""
    common = {"session_id": "real-1", "video_id": "vid-test-01", "edge": "lon-1", "region": "eu-west",
              "rendition": "360p", "bitrate": 800_000}
    log.publish(PLAYBACK, "real-1", {**common, "type": "started", "at": END - 100, "startup_ms": 300.0})
    log.publish(PLAYBACK, "real-1", {**common, "type": "stopped", "at": END - 80, "watched_s": 12.0,
                                     "position_s": 12.0, "duration_s": 12.0})
    log.publish(CDN, "lon-1", {"type": "hit", "edge": "lon-1", "region": "eu-west", "video_id": "vid-test-01",
                               "object": "videos/vid-test-01/cmaf/360p/seg_00001.m4s", "bytes": 1000,
                               "at": END - 99})


def test_a_demo_week_gives_every_chart_something_to_show(data: DataDir, log: EventLog,
                                                         analytics: AnalyticsService) -> None:
    seeded = seed_week(data, log, views_per_day=120)
    analytics.catch_up()
    days = analytics.query("views_over_time", bucket_s=DAY, since=END - 7 * DAY)
    assert [r["bucket_start"] for r in days] == [END - (7 - d) * DAY for d in range(7)]
    assert all(60 <= r["views"] <= 220 and r["watch_minutes"] > 0 for r in days)
    assert sum(r["views"] for r in days) == seeded.sessions == 7 * 120
    hours = Counter(time.gmtime(r["bucket_start"]).tm_hour
                    for r in analytics.query("views_over_time", bucket_s=3600, limit=1000)
                    for _ in range(r["views"]))
    evening, night = (sum(hours[h] for h in span) for span in ((19, 20, 21, 22), (2, 3, 4, 5)))
    assert evening > 3 * night, "no evening peak"

    bitrates = [r["bandwidth"] for r in data_renditions(data)]
    for row in analytics.query("qoe_by_edge") + analytics.query("qoe_by_region"):
        assert row["sessions"] > 0 and row["startup_ms"] > 0 and 0 <= row["rebuffer_ratio"] < 0.2
        assert min(bitrates) * 0.5 <= row["avg_bitrate"] <= max(bitrates) * 2
    regions = {e.region for e in Topology.default().edges}
    assert {r["region"] for r in analytics.query("qoe_by_region")} == regions

    cache = analytics.query("cache_hit_ratio", bucket_s=DAY, since=END - 7 * DAY, limit=1000)
    first, last = (sum(r["hits"] for r in cache if r["bucket_start"] == day) /
                   sum(r["requests"] for r in cache if r["bucket_start"] == day)
                   for day in (END - 7 * DAY, END - DAY))
    assert first < last, "the edges' caches did not warm up over the week"
    choices = analytics.query("steering_choices", limit=1000)
    by_region: dict[str, Counter[str]] = {}
    for row in choices:
        by_region.setdefault(row["client_region"], Counter())[row["chosen"]] += row["decisions"]
    for region, chosen in by_region.items():
        assert chosen.most_common(1)[0][1] > 0.8 * sum(chosen.values()), f"{region}: no home edge"
    [batch] = analytics.demo_batches()
    assert batch["batch"] == seeded.batch and batch["views"] == 7 * 120
    assert END - 7 * DAY <= batch["first_at"] < batch["last_at"] < END + 3600


def data_renditions(data: DataDir) -> list[dict[str, Any]]:
    return Catalog(data.catalog_db).list()[0].renditions


def test_the_same_seed_makes_the_same_week(data: DataDir) -> None:
    plan = DemoWeek(days=2, views_per_day=40, seed=5, end=END)
    one, two = (generate(ladders(data), Topology.default(), plan, "demo-x") for _ in range(2))
    other = generate(ladders(data), Topology.default(), DemoWeek(days=2, views_per_day=40, seed=6, end=END),
                     "demo-x")
    assert one == two and one != other
    assert all(v["demo"] == "demo-x" and END - 2 * DAY <= v["at"] < END + 600
               for items in one.values() for _, v in items)


def test_removing_a_demo_week_leaves_real_viewing_as_it_was(data: DataDir, log: EventLog,
                                                           analytics: AnalyticsService) -> None:
    real_viewing(log)
    analytics.catch_up()
    before = {q: analytics.query(q) for q in ("title_engagement", "qoe_by_edge", "cache_hit_ratio")}
    seeded = seed_week(data, log, days=2, views_per_day=50)
    analytics.catch_up()
    assert analytics.query("title_engagement")[0]["views"] == 101
    remove(log, seeded.batch)
    analytics.catch_up()
    assert {q: analytics.query(q) for q in before} == before
    assert analytics.demo_batches() == [] and analytics.query("steering_choices") == []
    analytics.rebuild()          # replaying the whole log ends without the removed batch too
    assert {q: analytics.query(q) for q in before} == before


def test_a_removed_batch_arriving_late_is_not_loaded(data: DataDir, log: EventLog,
                                                     analytics: AnalyticsService) -> None:
    plan = DemoWeek(days=1, views_per_day=30, end=END)
    events = generate(ladders(data), Topology.default(), plan, "demo-late")
    remove(log, "demo-late")
    analytics.catch_up()
    for topic, items in events.items():
        log.publish_many(topic, items)
    analytics.catch_up()
    assert analytics.query("title_engagement") == [] and analytics.query("cache_hit_ratio") == []


def test_an_analytics_file_from_before_demo_weeks_takes_them(data: DataDir, log: EventLog) -> None:
    """A user's existing DuckDB file has no `demo` columns: opening it adds them, nothing is lost."""
    old = schema.TABLES.replace(", demo VARCHAR", "").replace(",\n    demo VARCHAR", "")
    old = old.replace("CREATE TABLE IF NOT EXISTS demo_removed "
                      "(batch VARCHAR PRIMARY KEY, removed_at DOUBLE);", "")
    assert "demo" not in old
    path = data.root / "analytics.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(old)
        conn.execute("INSERT INTO cdn_events VALUES "
                     "('lon-1', 'eu-west', 'hit', 'v', 'o', 5, NULL, NULL, NULL, 1.0)")
    service = AnalyticsService(data, log, path=path)
    try:
        seeded = seed_week(data, log, days=1, views_per_day=20)
        service.catch_up()
        assert service.demo_batches()[0]["views"] == 20
        remove(log, seeded.batch)
        service.catch_up()
        rows = service.query("cache_hit_ratio", bucket_s=10**9)
        assert [(r["requests"], r["bytes"]) for r in rows] == [(1, 5)]
    finally:
        service.stop()


@pytest.mark.parametrize(("plan", "words"), [
    ({"days": 0}, "1 to 31 days"), ({"views_per_day": 0}, "Views per day"),
    ({"days": 30, "views_per_day": 1000}, "at most 20,000 sessions")])
def test_impossible_plans_are_refused_by_name(plan: dict[str, int], words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        DemoWeek(**plan)


def test_a_library_without_titles_gets_no_demo_week(tmp_path: Path) -> None:
    with open_event_log(DataDir.resolve(tmp_path / "d")) as empty_log, \
            pytest.raises(InvalidRequest, match="at least one published title"):
        seed(empty_log, [], Topology.default(), DemoWeek())


def test_the_cli_seeds_lists_and_removes_demo_weeks(data: DataDir) -> None:
    made = cli("demo", "week", "--days", "2", "--views-per-day", "30", "--json",
               "--data-dir", str(data.root))
    assert made.returncode == 0, made.stderr
    [seeded] = json_lines(made.stdout)
    listed = cli("demo", "list", "--json", "--data-dir", str(data.root))
    assert [(b["batch"], b["views"]) for b in json.loads(listed.stdout)] == [(seeded["batch"], 60)]
    wrong = cli("demo", "remove", "demo-nope", "--data-dir", str(data.root))
    assert wrong.returncode == 1 and "no demo batch 'demo-nope'" in wrong.stderr
    gone = cli("demo", "remove", "--all", "--data-dir", str(data.root))
    assert gone.returncode == 0 and "Removed 1 demo batch" in gone.stdout
    assert json.loads(cli("demo", "list", "--json", "--data-dir", str(data.root)).stdout) == []
