"""Telemetry in, events out: POSTed playback events reach the SSE stream; Last-Event-ID resumes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.http.runner import HttpServer
from server.http.services import Services
from tests.http.sse_client import EventStream


def playback(kind: str, n: int = 0, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "session_id": f"s{n}", "video_id": "v1", "edge": "edge-a", "region": "eu",
            "rendition": "360p", "bitrate": 800000, **extra}


def test_telemetry_is_validated_and_published(client: FlaskClient) -> None:
    ok = client.post("/api/telemetry", json={"events": [playback("started", startup_ms=420.0),
                                                        playback("stall", duration_ms=120)]})
    assert ok.status_code == 202 and ok.get_json() == {"published": 2}
    stream = client.get("/api/events/stream?topics=playback&from=earliest")
    first = next(line for line in _lines(stream) if line.startswith("data:"))
    assert '"type":"started"' in first and '"startup_ms":420.0' in first


def _lines(response: Any) -> Any:
    for chunk in response.response:
        yield from (chunk.decode() if isinstance(chunk, bytes) else chunk).splitlines()


@pytest.mark.parametrize("event, complaint", [
    ({"type": "teleport", "session_id": "s", "video_id": "v"}, "type"),
    (playback("stall"), "duration_ms"),
    (playback("stall", duration_ms=-3), "duration_ms"),
    (playback("started", startup_ms="fast"), "startup_ms"),
    ({**playback("stopped", watched_s=1, position_s=1, duration_s=3), "session_id": ""}, "session_id"),
    (playback("quality_switch"), "to"),
])
def test_bad_telemetry_is_refused_whole(client: FlaskClient, services: Services, event: dict[str, Any],
                                        complaint: str) -> None:
    response = client.post("/api/telemetry", json={"events": [playback("started", startup_ms=1), event]})
    assert response.status_code == 400 and complaint in response.get_json()["message"]
    assert sum(services.events.heads(["playback"]).values()) == 0


def test_sse_resumes_after_the_last_event_id(server: HttpServer, client: FlaskClient) -> None:
    stream = EventStream(server.host, server.port, "/api/events/stream?topics=playback")
    try:
        started = [playback("started", n, startup_ms=1) for n in range(3)]
        client.post("/api/telemetry", json={"events": started})
        seen = stream.next_messages(3)
    finally:
        stream.close()
    assert sorted(m["data"]["key"] for m in seen) == ["s0", "s1", "s2"]
    client.post("/api/telemetry", json={"events": [playback("stall", n, duration_ms=5) for n in range(3, 6)]})
    resumed = EventStream(server.host, server.port, "/api/events/stream?topics=playback", seen[-1]["id"])
    try:
        again = resumed.next_messages(3)
    finally:
        resumed.close()
    assert sorted(m["data"]["key"] for m in again) == ["s3", "s4", "s5"]
    assert all(m["event"] == "playback" and m["data"]["value"]["type"] == "stall" for m in again)


def test_a_closed_event_stream_leaves_no_consumer_group_behind(server: HttpServer, client: FlaskClient,
                                                              services: Services) -> None:
    """A studio that reconnects all day must not grow the server's memory by one group each time."""
    log = services.events
    assert log is not None
    before = set(log.groups_in_memory())
    for n in range(3):
        stream = EventStream(server.host, server.port, "/api/events/stream?topics=playback")
        try:
            client.post("/api/telemetry", json={"events": [playback("started", n, startup_ms=1)]})
            assert len(stream.next_messages(1)) == 1
            assert any(g.startswith("sse-") for g in log.groups_in_memory())
        finally:
            stream.close()
    deadline = time.monotonic() + 30
    while set(log.groups_in_memory()) - before and time.monotonic() < deadline:
        # the stream notices its client is gone when it next writes
        client.post("/api/telemetry", json={"events": [playback("stall", 9, duration_ms=1)]})
        time.sleep(0.2)
    assert set(log.groups_in_memory()) - before == set()


def test_a_bad_last_event_id_is_a_400(client: FlaskClient) -> None:
    response = client.get("/api/events/stream", headers={"Last-Event-ID": "videos=zero"})
    assert response.status_code == 400 and "cursor" in response.get_json()["message"]


def test_api_bodies_over_a_mebibyte_are_413(client: FlaskClient) -> None:
    huge = {"events": [playback("started", startup_ms=1)], "padding": "x" * (1024 * 1024)}
    response = client.post("/api/telemetry", json=huge)
    assert response.status_code == 413 and response.get_json()["error"] == "RequestEntityTooLarge"


def test_stopping_the_server_ends_open_event_streams(app: Flask, services: Services) -> None:
    server = HttpServer(app, on_stop=services.stopping).start()
    stream = EventStream(server.host, server.port, "/api/events/stream")
    try:
        assert stream.response.status == 200
        server.stop()
        assert stream.response.read() == b"" or stream.response.isclosed()
    finally:
        stream.close()
