"""CDN fixtures: a tiny real HLS fMP4 title (ffmpeg), an origin blob store holding it, edges on port 0."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from server.cdn.clock import ManualClock
from server.cdn.edge import EdgeNode
from server.cdn.origin import StoreOrigin
from server.cdn.tokens import Signer
from server.cdn.topology import EdgeSpec
from server.paths import DataDir
from server.storage.blobstore import LocalBlobStore

VIDEO_ID = "demo"
MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=160x90,CODECS="avc1.42c00c"
cmaf/90p/stream.m3u8
"""
MPD = """<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2S"/>
"""


@pytest.fixture(scope="session")
def hls_title(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s 160x90 title packaged by ffmpeg as HLS fMP4 (1 s segments), plus MPD, poster and VTT."""
    out = tmp_path_factory.mktemp("title")
    rung = out / "cmaf" / "90p"
    rung.mkdir(parents=True)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=2",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
                    "-sc_threshold", "0", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
                    "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
                    "-hls_segment_filename", str(rung / "seg_%03d.m4s"), str(rung / "stream.m3u8")],
                   check=True)
    (out / "master.m3u8").write_text(MASTER)
    (out / "manifest.mpd").write_text(MPD)
    (out / "thumbs").mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:duration=0.1",
                    "-frames:v", "1", str(out / "thumbs" / "poster.jpg")], check=True)
    (out / "thumbs" / "sprite.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nposter.jpg\n")
    return out


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    return DataDir.resolve(tmp_path / "data")


@pytest.fixture
def store(data_dir: DataDir, hls_title: Path) -> LocalBlobStore:
    """The origin store with the demo title published at `videos/demo/`."""
    blobs = LocalBlobStore(data_dir.origin)
    staging = blobs.staging_dir(VIDEO_ID)
    shutil.copytree(hls_title, staging, dirs_exist_ok=True)
    blobs.publish_dir(staging, f"videos/{VIDEO_ID}")
    return blobs


@pytest.fixture
def origin(store: LocalBlobStore) -> StoreOrigin:
    return StoreOrigin(store)


class Recorder:
    """A Publisher that keeps what it was given (stands in for the event log, which is not under test)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def publish(self, topic: str, key: str, value: dict[str, Any]) -> tuple[int, int]:
        with self._lock:
            self.events.append((topic, key, value))
            return (0, len(self.events) - 1)

    def of(self, topic: str, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [v for t, _, v in self.events if t == topic and (kind is None or v["type"] == kind)]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def signer() -> Signer:
    return Signer(b"k" * 32)


SPEC = EdgeSpec("test-1", "eu-west", 51.5, -0.1, rtt_ms=0, bandwidth_mbps=None, capacity_bytes=50_000_000,
                ttl_s=60, policy="lru")
EdgeMaker = Callable[..., EdgeNode]


@pytest.fixture
def make_edge(tmp_path: Path, origin: StoreOrigin, signer: Signer, recorder: Recorder,
              clock: ManualClock) -> Iterator[EdgeMaker]:
    """`make_edge(**spec_overrides)` -> a started EdgeNode (stopped at teardown)."""
    made: list[EdgeNode] = []

    def make(**overrides: Any) -> EdgeNode:
        edge_origin = overrides.pop("origin", origin)
        spec = replace(SPEC, **overrides)
        edge = EdgeNode(spec, edge_origin, tmp_path / "edges" / spec.name, signer,
                        recorder, clock)
        edge.start()
        made.append(edge)
        return edge

    yield make
    for edge in made:
        edge.close()


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, Any, bytes]:
    """(status, headers, body) of one real HTTP request; error statuses are returned, not raised."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until `condition()` holds (events are published off the request path, just after it)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within the timeout")
        time.sleep(0.01)


BIG_SEGMENT = 32 * 1024 * 1024   # more than loopback's socket buffers: the edge waits for a slow reader


def publish_big_segment(store: LocalBlobStore, video_id: str) -> str:
    """A title `video_id` with one BIG_SEGMENT-byte segment; returns its path under the title."""
    staging = store.staging_dir(video_id)
    (staging / "cmaf" / "1080p").mkdir(parents=True)
    (staging / "cmaf" / "1080p" / "seg_000.m4s").write_bytes(os.urandom(BIG_SEGMENT))
    store.publish_dir(staging, f"videos/{video_id}")
    return "cmaf/1080p/seg_000.m4s"


def read_slowly(url: str, pause: Callable[[], None]) -> int:
    """GET `url` as a slow viewer: the first KB, then `pause()`, then the rest; the body's length."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        resp = conn.getresponse()
        assert resp.status == 200, resp.status
        first = len(resp.read(1024))
        pause()
        return first + len(resp.read())
    finally:
        conn.close()
