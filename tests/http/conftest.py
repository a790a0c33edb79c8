"""HTTP fixtures: a data dir with a published title, the app over it, and a real waitress server.

Titles are made once per session by the real ingest pipeline and copied into each test's data
dir under a fixed id (`publish`), so tests stay independent and fast.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.catalog import Catalog, Title
from server.cdn.cluster import CDN
from server.cdn.origin import StoreOrigin
from server.cdn.steering import Steering
from server.cdn.topology import Topology
from server.engine import Engine
from server.http.app import create_app
from server.http.runner import HttpServer
from server.http.services import Services
from server.jobs.pipeline import IngestOptions
from server.paths import DataDir
from server.storage.blobstore import LocalBlobStore, title_prefix
from tests.conftest import generate_clip

VIDEO_ID = "vid-test-01"
# The real ingest of a 640x360 source plans these two rungs of the default ladder.
RUNGS = (("360p", 640, 360, "800k"), ("240p", 426, 240, "400k"))
FPS = 25


@dataclass(frozen=True)
class Made:
    """A title published once per session by the real ingest: its folder, length, frames, renditions."""

    folder: Path
    seconds: int
    frames: int
    renditions: tuple[dict[str, Any], ...] = ()


def encode_title(out: Path, seconds: int) -> Made:
    """Ingest a generated 640x360 clip with the real pipeline (1 s CMAF segments, several chunks)."""
    clip = generate_clip(out / "source.mp4", seconds=seconds, size="640x360", fps=FPS)
    data = DataDir.resolve(out / "data")
    options = IngestOptions(workers=2, segment_seconds=1.0, retries=0, preset="ultrafast",
                            min_chunk_seconds=1.0)
    with Engine(data) as engine:
        ingest = engine.ingest(options)
        job = ingest.run(ingest.create_job(clip))
    assert job.state == "published", job.error
    assert [r["name"] for r in job.result["renditions"]] == [r[0] for r in RUNGS]
    folder = data.origin / "videos" / job.video_id
    return Made(folder, seconds, seconds * FPS, tuple(job.result["renditions"]))


@pytest.fixture(scope="session")
def short_title(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A 3 s title (75 frames per rung), encoded once."""
    return encode_title(tmp_path_factory.mktemp("title3"), 3)


@pytest.fixture(scope="session")
def long_title(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A 12 s title, long enough to stop an edge while a player is still fetching."""
    return encode_title(tmp_path_factory.mktemp("title12"), 12)


def publish(data: DataDir, made: Made, video_id: str = VIDEO_ID) -> Title:
    """Copy a made title into the origin (atomically) and add its catalog row."""
    store = LocalBlobStore(data.origin)
    staging = store.staging_dir(video_id)
    shutil.copytree(made.folder, staging, dirs_exist_ok=True)
    store.publish_dir(staging, title_prefix(video_id))
    title = Title(video_id=video_id, status="published", title="Test pattern", tags=["test"],
                  duration=float(made.seconds), width=RUNGS[0][1], height=RUNGS[0][2],
                  source_codec="h264", renditions=list(made.renditions),
                  audio={"codec": "mp4a.40.2", "channels": 2})
    return Catalog(data.catalog_db).add_published(title)


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    return DataDir.resolve(tmp_path / "data")


@pytest.fixture
def engine(data: DataDir) -> Engine:
    """The engine's parts for `data`, built from the settings (the services below share them)."""
    return Engine(data)


@pytest.fixture
def services(engine: Engine) -> Iterator[Services]:
    """Catalog, origin store and event log; tests that need edges or ingest add them."""
    built = Services(data=engine.data, catalog=engine.catalog, store=engine.origin,
                     events=engine.events).start()
    yield built
    built.stop()


@pytest.fixture
def cdn(services: Services) -> Iterator[Services]:
    """The same services plus the default edges (6 in 3 regions, real listeners) and steering."""
    services.cdn = CDN(Topology.default(), StoreOrigin(services.store), services.data, services.events)
    services.steering = Steering(services.cdn, services.events)
    services.cdn.start()
    services.started += ["cdn", "steering"]
    yield services


@pytest.fixture
def ingest(engine: Engine, services: Services) -> Iterator[Services]:
    """The same services plus the real ingest job service (background worker, real ffmpeg)."""
    services.ingest = engine.ingest_service()
    services.ingest.start()
    services.started.append("ingest")
    yield services


@pytest.fixture
def insights(services: Services, title: Title) -> Iterator[Services]:
    """The same services plus analytics (DuckDB) and search (Whoosh), following the event log."""
    from server.analytics.service import AnalyticsService
    from server.search.service import SearchService

    services.analytics = AnalyticsService(services.data, services.events)
    services.search = SearchService(services.data, services.events, services.catalog,
                                    views=services.analytics.views)
    services.analytics.start()
    services.search.start()
    services.started += ["analytics", "search"]
    yield services


@pytest.fixture
def app(services: Services, request: pytest.FixtureRequest) -> Flask:
    for extra in ("cdn", "ingest", "insights"):  # services first, so the app serves their endpoints
        if extra in request.fixturenames:
            request.getfixturevalue(extra)
    return create_app(services, {"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def title(data: DataDir, short_title: Made) -> Title:
    return publish(data, short_title)


@pytest.fixture
def server(app: Flask, services: Services) -> Iterator[HttpServer]:
    """The app on real waitress, 127.0.0.1, a free port."""
    with HttpServer(app, on_stop=services.stopping) as running:
        yield running


@pytest.fixture(scope="session")
def tracks_title(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """The two-language title with subtitles (tests/http/tracks_title.py), ingested once a session;
    a test publishes a copy of it (`publish`), so its edits never reach another test."""
    from tests.http.tracks_title import encode_tracks_title

    return encode_tracks_title(tmp_path_factory.mktemp("tracks"))
