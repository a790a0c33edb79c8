"""HTTP fixtures: a data dir with a published title, the app over it, and a real waitress server.

`published_title` is the one place that makes a title without the ingest pipeline (real ffmpeg,
HLS fMP4 in the origin layout plus a catalog row); swap it for a real ingest run when it lands.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.catalog import Catalog, Title
from server.cdn.cluster import CDN
from server.cdn.origin import StoreOrigin
from server.cdn.steering import Steering
from server.cdn.topology import Topology
from server.events.log import open_event_log
from server.http.app import create_app
from server.http.runner import HttpServer
from server.http.services import Services
from server.paths import DataDir
from server.storage.blobstore import LocalBlobStore, title_prefix

VIDEO_ID = "vid-test-01"
RUNGS = (("180p", 320, 180, "400k"), ("90p", 160, 90, "150k"))
FPS = 25


@dataclass(frozen=True)
class Made:
    """A title template encoded once per session: its folder, length and frame count."""

    folder: Path
    seconds: int
    frames: int


def encode_title(out: Path, seconds: int) -> Made:
    """Two video rungs and one audio rendition, 1 s CMAF segments, master at the title root."""
    split = f"[0:v]split=2[a][b];[b]scale={RUNGS[1][1]}:{RUNGS[1][2]}[b2]"
    subprocess.run([
        "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
        f"testsrc2=size=320x180:rate={FPS}:duration={seconds}", "-f", "lavfi", "-i",
        f"sine=frequency=440:sample_rate=48000:duration={seconds}", "-filter_complex", split,
        "-map", "[a]", "-map", "[b2]", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast",
        "-pix_fmt", "yuv420p", "-g", str(FPS), "-keyint_min", str(FPS), "-sc_threshold", "0",
        "-b:v:0", RUNGS[0][3], "-b:v:1", RUNGS[1][3], "-c:a", "aac", "-b:a", "64k",
        "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
        "-hls_flags", "independent_segments", "-master_pl_name", "ffmpeg-master.m3u8",
        "-var_stream_map", "v:0,agroup:aud,name:180p v:1,agroup:aud,name:90p a:0,agroup:aud,name:audio",
        "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", str(out / "cmaf/%v/seg_%05d.m4s"),
        str(out / "cmaf/%v/index.m3u8")], check=True)
    (out / "cmaf" / "ffmpeg-master.m3u8").unlink()
    for playlist in (out / "cmaf").glob("*/index.m3u8"):  # ffmpeg numbers init files per variant
        init = next(playlist.parent.glob("init_*.mp4"))
        init.rename(playlist.parent / "init.mp4")
        playlist.write_text(playlist.read_text().replace(init.name, "init.mp4"))
    (out / "master.m3u8").write_text(master_playlist())
    return Made(out, seconds, seconds * FPS)


def master_playlist() -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS",
             '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,'
             'URI="cmaf/audio/index.m3u8"']
    for name, w, h, rate in RUNGS:
        bandwidth = int(rate[:-1]) * 1000 + 64000
        lines += [f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={w}x{h},'
                  f'CODECS="avc1.42c01e,mp4a.40.2",AUDIO="aud"', f"cmaf/{name}/index.m3u8"]
    return "\n".join(lines) + "\n"


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
    renditions = [{"name": n, "width": w, "height": h, "bandwidth": int(r[:-1]) * 1000,
                   "frames": made.frames} for n, w, h, r in RUNGS]
    title = Title(video_id=video_id, status="published", title="Test pattern", tags=["test"],
                  duration=float(made.seconds), width=320, height=180, source_codec="h264",
                  renditions=renditions, audio={"name": "audio", "codec": "aac"})
    return Catalog(data.catalog_db).add_published(title)


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    return DataDir.resolve(tmp_path / "data")


@pytest.fixture
def services(data: DataDir) -> Iterator[Services]:
    """Catalog, origin store and event log; tests that need edges or ingest add them."""
    built = Services(data=data, catalog=Catalog(data.catalog_db), store=LocalBlobStore(data.origin),
                     events=open_event_log(data)).start()
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
def ingest(services: Services) -> Iterator[Services]:
    """The same services plus the real ingest job service (background worker, real ffmpeg)."""
    from server.jobs.service import IngestService

    services.ingest = IngestService(services.data, services.events)
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
