"""Origin serving over real HTTP: MIME types, Range, ETag/Last-Modified/304, and no way out."""

from __future__ import annotations

import http.client
import os
from pathlib import Path

import pytest

from server.catalog import Title
from server.http.runner import HttpServer
from server.paths import DataDir
from tests.http.conftest import VIDEO_ID

BASE = f"/origin/videos/{VIDEO_ID}"


def get(server: HttpServer, path: str, headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    """A raw request: http.client sends the path exactly as written (no client-side normalising)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path, mime", [
    ("master.m3u8", "application/vnd.apple.mpegurl"),
    ("cmaf/360p/init.mp4", "video/mp4"),
    ("cmaf/360p/seg_00001.m4s", "video/iso.segment"),
])
def test_objects_have_player_mime_types(server: HttpServer, title: Title, path: str, mime: str) -> None:
    status, headers, body = get(server, f"{BASE}/{path}")
    assert status == 200 and headers["content-type"].startswith(mime) and body


def test_range_returns_exactly_the_asked_bytes(server: HttpServer, title: Title, data: DataDir) -> None:
    whole = (data.origin / "videos" / VIDEO_ID / "cmaf/360p/seg_00001.m4s").read_bytes()
    status, headers, body = get(server, f"{BASE}/cmaf/360p/seg_00001.m4s", {"Range": "bytes=100-199"})
    assert status == 206 and body == whole[100:200]
    assert headers["content-range"] == f"bytes 100-199/{len(whole)}"
    status, _, body = get(server, f"{BASE}/cmaf/360p/seg_00001.m4s", {"Range": f"bytes=-{len(whole) // 2}"})
    assert status == 206 and body == whole[-(len(whole) // 2):]
    status, _, _ = get(server, f"{BASE}/cmaf/360p/seg_00001.m4s", {"Range": f"bytes={len(whole) + 5}-"})
    assert status == 416


def test_conditional_requests_get_304(server: HttpServer, title: Title) -> None:
    status, headers, _ = get(server, f"{BASE}/master.m3u8")
    assert status == 200 and headers["etag"] and headers["last-modified"]
    assert get(server, f"{BASE}/master.m3u8", {"If-None-Match": headers["etag"]})[0] == 304
    assert get(server, f"{BASE}/master.m3u8", {"If-Modified-Since": headers["last-modified"]})[0] == 304
    assert get(server, f"{BASE}/master.m3u8", {"If-None-Match": '"other"'})[0] == 200


@pytest.mark.parametrize("path", [
    f"{BASE}/../../../catalog.sqlite",
    f"{BASE}/%2e%2e/%2e%2e/%2e%2e/catalog.sqlite",
    f"{BASE}/..%2f..%2f..%2fcatalog.sqlite",
    "/origin/%2fetc/passwd",
    "/origin//etc/passwd",
    "/origin/videos/%2e%2e%5c%2e%2e%5ccatalog.sqlite",
    "/origin/.trash/anything",
    "/origin/videos/.staging/x",
    "/origin/catalog.sqlite",
])
def test_traversal_attempts_never_leave_the_origin(server: HttpServer, title: Title, path: str) -> None:
    status, _, body = get(server, path)
    assert status in (400, 403, 404)
    assert b"SQLite format" not in body and b"root:" not in body


def test_a_symlink_inside_a_title_is_refused(server: HttpServer, title: Title, data: DataDir,
                                             tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    os.symlink(secret, data.origin / "videos" / VIDEO_ID / "leak.m3u8")
    status, _, body = get(server, f"{BASE}/leak.m3u8")
    assert status == 403 and b"do not serve" not in body


def test_the_original_upload_is_not_served(server: HttpServer, title: Title, data: DataDir) -> None:
    source = data.origin / "videos" / VIDEO_ID / "source" / "clip.mp4"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"creator's original bytes")
    status, headers, body = get(server, f"{BASE}/source/clip.mp4")
    assert status == 403 and b"original bytes" not in body
    assert headers["content-type"].startswith("application/json")
