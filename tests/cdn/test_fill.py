"""Proactive fill: popular titles reach their home edges before any viewer asks, within the window
and the rate cap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from server.cdn.clock import ManualClock
from server.cdn.cluster import CDN
from server.cdn.fill import FillWindow, ProactiveFill, RateLimiter, feed_from_views, title_objects
from server.cdn.origin import StoreOrigin
from server.cdn.topology import Topology
from tests.cdn.conftest import VIDEO_ID, Recorder, fetch, wait_for


@pytest.fixture
def cdn(data_dir, origin: StoreOrigin, recorder: Recorder, clock: ManualClock) -> Iterator[CDN]:
    net = CDN(Topology.default(), origin, data_dir, recorder, clock)
    net.start()
    yield net
    net.stop()


def test_title_objects_are_found_by_reading_the_playlists(origin: StoreOrigin, hls_title) -> None:
    keys = title_objects(origin, VIDEO_ID)
    on_disk = {f"videos/{VIDEO_ID}/{p.relative_to(hls_title).as_posix()}" for p in hls_title.rglob("*")
               if p.is_file() and p.suffix in (".m3u8", ".m4s", ".mp4", ".mpd")}
    assert set(keys) == on_disk


def test_popular_titles_are_pushed_to_their_home_edge_in_every_region(cdn: CDN, recorder: Recorder) -> None:
    fill = ProactiveFill(cdn, lambda: [VIDEO_ID, "missing-title"], copies=1)
    report = fill.run_once()
    homes = {cdn.home_edges(VIDEO_ID, region)[0] for region in cdn.rings}
    assert len(homes) == 3
    for name, edge in cdn.edges.items():
        assert (edge.has_title(VIDEO_ID) > 0) == (name in homes)
    assert report.objects == 3 * len(title_objects(cdn.origin, VIDEO_ID)) and report.bytes > 0
    assert any("missing-title" in e for e in report.errors)
    home = cdn.edges[sorted(homes)[0]]
    status, headers, _ = fetch(home.url_for(VIDEO_ID, "cmaf/90p/seg_001.m4s"))
    assert (status, headers["X-Cache"]) == (200, "HIT")        # the first viewer already gets a hit
    wait_for(lambda: len(recorder.of("cdn", "fill")) >= report.objects)
    assert fill.run_once().objects == 0                         # nothing new to push


def test_a_down_home_edge_is_skipped_for_the_next_on_the_ring(cdn: CDN) -> None:
    home, second = cdn.home_edges(VIDEO_ID, "eu-west", copies=2)
    cdn.stop_edge(home)
    ProactiveFill(cdn, lambda: [VIDEO_ID]).run_once()
    assert cdn.edges[second].has_title(VIDEO_ID) > 0 and cdn.edges[home].has_title(VIDEO_ID) == 0


def test_outside_the_window_nothing_is_filled(cdn: CDN, clock: ManualClock) -> None:
    hour = dt.datetime.fromtimestamp(clock.now(), dt.UTC).hour
    window = FillWindow((hour + 2) % 24, (hour + 4) % 24)
    report = ProactiveFill(cdn, lambda: [VIDEO_ID], window=window).run_once()
    assert report.objects == 0 and "outside the fill window" in report.skipped
    assert FillWindow(22, 6).contains(dt.datetime(2026, 1, 1, 23, tzinfo=dt.UTC).timestamp())
    assert not FillWindow(22, 6).contains(dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC).timestamp())


def test_the_rate_cap_spaces_transfers_after_a_one_second_burst() -> None:
    clock = ManualClock()
    limiter = RateLimiter(1_000_000, clock)
    waits = [limiter.spend(500_000) for _ in range(6)]
    assert waits[:2] == [0, 0]
    assert sum(waits) == pytest.approx(2.0)            # 3 MB at 1 MB/s, minus the 1 s burst
    start = clock.now()
    clock.advance(10)
    assert limiter.spend(500_000) == 0 and clock.now() == start + 10


def test_view_counts_become_a_ranked_feed() -> None:
    assert feed_from_views(lambda: {"b": 3, "a": 3, "c": 9})() == ["c", "a", "b"]


def test_the_fill_thread_runs_at_once_and_stops(cdn: CDN) -> None:
    fill = ProactiveFill(cdn, lambda: [VIDEO_ID])
    fill.start(interval_s=3600)
    try:
        home = cdn.home_edges(VIDEO_ID, "us-east")[0]
        wait_for(lambda: cdn.edges[home].has_title(VIDEO_ID) > 0)
    finally:
        fill.stop()
    assert not fill._worker.running
