"""What an edge refuses, and how: only playback files, and a small clean answer to any odd URL or
token (issue 16: a non-ASCII byte or 5000 hex digits in the token dropped the connection)."""

from __future__ import annotations

import json
import socket
import struct
import time

import pytest

from tests.cdn.conftest import VIDEO_ID, EdgeMaker, fetch


def raw_get(port: int, target: bytes) -> tuple[int, bytes]:
    """Send one request line byte for byte; (status, body) of the answer (status 0: no answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    if not reply:
        return 0, b""
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.fixture
def source_upload(store) -> str:
    """The original upload kept next to the packaged title, as ingest does."""
    source = store.root / "videos" / VIDEO_ID / "source"
    source.mkdir()
    (source / "holiday.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 the creator's original upload")
    (store.root / "videos" / VIDEO_ID / "notes.m3u8").write_text("#EXTM3U\n")
    return "source/holiday.mp4"


@pytest.mark.parametrize("path", ["source/holiday.mp4", "source/../source/holiday.mp4", "SOURCE/holiday.mp4",
                                  "notes.m3u8", "cmaf", "cmaf/90p/stream.m3u8.bak"])
def test_the_original_upload_and_other_non_playback_files_are_refused(make_edge: EdgeMaker, source_upload,
                                                                      path: str) -> None:
    status, _, body = fetch(make_edge().url_for(VIDEO_ID, path))
    assert status in (403, 404)
    assert b"original upload" not in body


def test_every_playback_file_is_still_served(make_edge: EdgeMaker, source_upload) -> None:
    edge = make_edge()
    for path in ("master.m3u8", "manifest.mpd", "cmaf/90p/stream.m3u8", "cmaf/90p/init.mp4",
                 "cmaf/90p/seg_000.m4s", "thumbs/poster.jpg", "thumbs/sprite.vtt"):
        assert fetch(edge.url_for(VIDEO_ID, path))[0] == 200, path


def token_of(url: str) -> str:
    return url.split("/t/", 1)[1].split("/", 1)[0]


@pytest.mark.parametrize("token", [
    b"\xff", b"10.\xff" + b"A" * 23, b"7fffffff.\xc3\xa9" + b"A" * 22,
    b"ab\xffcd.AAAAAAAAAAAAAAAAAAAAAAAA", b"1" * 5000, b"f" * 5000 + b".AAAA",
    b"%ff%fe", b"\xc3\xa9.\xc3\xa9", b"-1.AAAAAAAAAAAAAAAAAAAAAAAA", b"0x10.abc", b"..", b"%00",
    b"1_0.AAAAAAAAAAAAAAAAAAAAAAAA", b"+10.AAAAAAAAAAAAAAAAAAAAAAAA", b"\xd9\xa1.AAAA"])
def test_odd_tokens_get_a_small_403_not_a_dropped_connection(make_edge: EdgeMaker, token: bytes) -> None:
    edge = make_edge()
    status, body = raw_get(edge.port, b"/t/" + token + f"/videos/{VIDEO_ID}/master.m3u8".encode())
    assert status in (400, 403, 414), body
    assert len(body) < 1024 and json.loads(body)["status"] == status


@pytest.mark.parametrize("rest", [b"master.m3u8?" + b"a" * 5000, b"a" * 300 + b".m4s",
                                  b"cmaf/" + b"x" * 5000 + b"/seg.m4s", "\u00e9".encode() * 200 + b".m4s",
                                  b"cmaf/90p/%ff%fe.m4s", b"cmaf/90p/\xff.m4s"])
def test_odd_urls_with_a_good_token_get_a_small_clean_answer(make_edge: EdgeMaker, clock, signer,
                                                            rest: bytes) -> None:
    edge = make_edge()
    token = signer.sign(VIDEO_ID, int(clock.now()) + 60).encode()
    status, body = raw_get(edge.port, b"/t/" + token + f"/videos/{VIDEO_ID}/".encode() + rest)
    assert status in (400, 403, 404, 414), body
    assert len(body) < 1024 and b"/tmp" not in body and str(edge.cache.root).encode() not in body


def test_a_client_that_hangs_up_before_its_answer_is_no_server_error(make_edge: EdgeMaker, monkeypatch,
                                                                      caplog) -> None:
    """A health probe that gives up (its timeout, under load) and resets the connection: the edge
    notes nothing as an error and keeps answering."""

    edge = make_edge()
    real = edge.health

    def slow_health() -> dict[str, object]:
        time.sleep(0.3)               # the probe has gone by the time the answer is written
        return real()

    monkeypatch.setattr(edge, "health", slow_health)
    caplog.set_level("WARNING", logger="server.cdn.edge_http")
    for _ in range(3):
        probe = socket.create_connection(("127.0.0.1", edge.port), timeout=5)
        probe.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # RST on close
        probe.close()
    time.sleep(1.2)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "WARNING")], caplog.text
    monkeypatch.setattr(edge, "health", real)
    assert fetch(f"{edge.base_url}/health")[0] == 200
