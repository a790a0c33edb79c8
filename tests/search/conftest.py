"""A catalog and event log in a temp data dir, and a helper that publishes titles the way ingest does
(catalog row first, then the `videos/published` event)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.catalog import Catalog, Title
from server.events.log import EventLog, open_event_log
from server.paths import DataDir

DAY = 86400.0


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    return DataDir.resolve(tmp_path / "data")


@pytest.fixture
def catalog(data: DataDir) -> Catalog:
    return Catalog(data.catalog_db)


@pytest.fixture
def log(data: DataDir) -> Iterator[EventLog]:
    with open_event_log(data) as opened:
        yield opened


Publish = Callable[..., Title]


@pytest.fixture
def publish(catalog: Catalog, log: EventLog) -> Publish:
    def add(video_id: str, title: str, description: str = "", tags: tuple[str, ...] = (),
            height: int = 720, duration: float = 90.0, days_ago: float = 0.0, **extra: Any) -> Title:
        created = time.time() - days_ago * DAY
        row = Title(video_id=video_id, status="published", title=title, description=description,
                    tags=list(tags), duration=duration, height=height, created_at=created,
                    renditions=[{"name": f"{height}p", "width": 0, "height": height, "bandwidth": 1}],
                    **extra)
        stored = catalog.add_published(row)
        log.publish("videos", video_id, {"type": "published", "video_id": video_id, "at": time.time(),
                                         "title": stored.to_dict()})
        return stored
    return add


@pytest.fixture
def library(publish: Publish) -> None:
    publish("cats", "Cats in space", "Two cats float around the galaxy.", ("cats", "space"),
            height=1080, duration=45, days_ago=40, creator="Ana Lima", original_name="kitties_orbit.mov")
    publish("dogs", "Dogs at sea", "A dog sails a small boat across the ocean.", ("dogs", "sea"),
            duration=250, days_ago=10)
    publish("station", "Space station tour", "A tour of the orbital station; no cats were harmed.",
            ("space",), duration=1500, days_ago=1)
    publish("sea-dogs", "The sea and its dogs", "Harbour dogs by the sea.", ("dogs",), height=360,
            duration=30, days_ago=5)
