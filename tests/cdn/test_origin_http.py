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
from tests.cdn.origin_server import origin_server as range_origin


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


def test_a_partial_read_is_asked_of_the_origin_with_a_range(store) -> None:
    key = f"videos/{VIDEO_ID}/cmaf/90p/seg_001.m4s"
    with range_origin(store.root, ranges=True) as (url, asked), HttpOrigin(url).open(key, 100, 50) as stream:
        assert read_all(stream) == store.read(key)[100:150]
        assert stream.info.size == store.stat(key).size
        assert asked == ["bytes=100-149"]


def test_an_object_too_large_to_cache_streams_the_clients_range_from_the_http_origin(
        make_edge: EdgeMaker, store) -> None:
    key = f"videos/{VIDEO_ID}/cmaf/90p/seg_001.m4s"
    with range_origin(store.root, ranges=True) as (url, asked):
        edge = make_edge(origin=HttpOrigin(url), capacity_bytes=100)
        link = edge.url_for(VIDEO_ID, key.split("/", 2)[2])
        status, headers, body = fetch(link, {"Range": "bytes=100-149"})
        assert (status, headers["X-Cache"], body) == (206, "MISS", store.read(key)[100:150])
        assert "bytes=100-149" in asked
    assert not edge.cache.has(key) and edge.health()["cached_bytes"] == 0
