"""Edges pulling over HTTP from a separate origin server (a plain static server on loopback)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from server.cdn.fill import title_objects
from server.cdn.origin import HttpOrigin, OriginError, OriginStream
from server.errors import NotFound
from tests.cdn.conftest import VIDEO_ID, EdgeMaker, fetch


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def origin_server(store) -> Iterator[ThreadingHTTPServer]:
    handler = functools.partial(QuietHandler, directory=str(store.root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def read_all(stream: OriginStream) -> bytes:
    return b"".join(iter(stream.read, b""))


def base_url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_http_origin_fetches_objects_and_reports_missing_ones(origin_server, store) -> None:
    origin = HttpOrigin(base_url(origin_server))
    key = f"videos/{VIDEO_ID}/cmaf/90p/seg_000.m4s"
    with origin.open(key) as stream:
        data = read_all(stream)
        assert data == store.read(key) and stream.info.size == len(data)
        assert stream.info.etag and origin.etag(key) == stream.info.etag
    with origin.open(key, 100, 50) as stream:      # a plain static server ignores Range: skipped to
        assert read_all(stream) == data[100:150]
    with pytest.raises(NotFound):
        origin.open(f"videos/{VIDEO_ID}/nope.m4s")
    assert set(title_objects(origin, VIDEO_ID)) >= {key, f"videos/{VIDEO_ID}/cmaf/90p/init.mp4"}


def test_edge_over_http_origin_serves_stale_when_the_origin_server_goes_away(
        make_edge: EdgeMaker, origin_server, clock) -> None:
    edge = make_edge(origin=HttpOrigin(base_url(origin_server), timeout=2), ttl_s=5)
    url = edge.url_for(VIDEO_ID, "cmaf/90p/seg_001.m4s")
    status, headers, body = fetch(url)
    assert (status, headers["X-Cache"]) == (200, "MISS")
    origin_server.shutdown()
    origin_server.server_close()
    clock.advance(10)
    status, headers, again = fetch(url)
    assert (status, headers["X-Cache"], again) == (200, "STALE", body)
    with pytest.raises(OriginError):
        HttpOrigin(base_url(origin_server), timeout=1).open(f"videos/{VIDEO_ID}/master.m3u8")
