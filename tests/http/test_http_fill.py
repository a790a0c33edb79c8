"""The server pushes a viewed title to its home edges in every region (proactive fill)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from server.engine import Engine
from server.http.services import Services, build_services
from server.paths import DataDir
from tests.http.conftest import VIDEO_ID, Made, publish


@pytest.fixture
def full(tmp_path, short_title: Made) -> Iterator[Services]:  # type: ignore[no-untyped-def]
    data = DataDir.resolve(tmp_path / "data")
    publish(data, short_title)
    services = build_services(Engine(data)).start()
    yield services
    services.stop()


def test_a_viewed_title_is_filled_onto_its_home_edge_in_each_region(full: Services) -> None:
    assert full.fill is not None and full.analytics is not None and full.cdn is not None
    full.publish("playback", "s-1", {"type": "started", "session_id": "s-1", "video_id": VIDEO_ID,
                                     "edge": "lon-1", "region": "eu-west", "rendition": "360p",
                                     "bitrate": 800000, "startup_ms": 250})
    deadline = time.monotonic() + 30
    while VIDEO_ID not in full.analytics.views():
        assert time.monotonic() < deadline, "analytics never counted the view"
        time.sleep(0.2)
    report = full.fill.fill.run_once()
    assert report.titles == [VIDEO_ID] and report.objects > 0 and not report.errors
    for region in {spec.region for spec in full.cdn.topology.edges}:
        [home] = full.cdn.home_edges(VIDEO_ID, region)
        assert full.cdn.edge(home).has_title(VIDEO_ID) > 0
