"""Bad input is a clear 400 (never a 500, a hung thread or invalid JSON), and no error body shows a path."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.catalog import Title
from server.http.services import Services
from tests.http.conftest import VIDEO_ID


def strict_json(raw: bytes) -> Any:
    """Parse as a browser would: NaN and Infinity are not JSON."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in a response")
    return json.loads(raw, parse_constant=refuse)


def post_raw(client: FlaskClient, url: str, text: str) -> Any:
    return client.post(url, data=text, content_type="application/json")


# --- throttle: finite, within 0.05..10000 Mbit/s ----------------------------------------------------------

@pytest.mark.parametrize("mbps", ["NaN", "Infinity", "-Infinity", "1e-9", "0.01", "1e400", "10001", "0"])
def test_a_throttle_outside_the_range_is_refused(client: FlaskClient, cdn: Services, mbps: str) -> None:
    name = cdn.cdn.topology.edges[0].name
    before = client.get(f"/api/edges/{name}").get_json()["bandwidth_mbps"]
    response = post_raw(client, f"/api/edges/{name}/throttle", f'{{"mbps": {mbps}}}')
    assert response.status_code == 400 and response.get_json()["error"] == "InvalidRequest"
    edges = strict_json(client.get("/api/edges").data)["edges"]
    assert next(e for e in edges if e["name"] == name)["bandwidth_mbps"] == before


@pytest.mark.parametrize("mbps", [0.05, 10000])
def test_the_ends_of_the_throttle_range_are_accepted(client: FlaskClient, cdn: Services, mbps: float) -> None:
    name = cdn.cdn.topology.edges[0].name
    response = client.post(f"/api/edges/{name}/throttle", json={"mbps": mbps})
    assert response.status_code == 200 and response.get_json()["bandwidth_mbps"] == mbps


# --- JSON bodies ------------------------------------------------------------------------------------------

def test_deeply_nested_json_is_a_400(client: FlaskClient, title: Title) -> None:
    response = post_raw(client, "/api/telemetry", "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400 and "nested" in response.get_json()["message"]
    nested = '{"type": "started", "session_id": "s", "video_id": "v", "x": ' + "[" * 40 + "]" * 40 + "}"
    assert post_raw(client, "/api/telemetry", nested).status_code == 400


def test_non_json_numbers_in_telemetry_are_refused(client: FlaskClient, title: Title) -> None:
    body = '{"type": "started", "session_id": "s", "video_id": "' + VIDEO_ID + '", "startup_ms": NaN}'
    response = post_raw(client, "/api/telemetry", body)
    assert response.status_code == 400 and "NaN" in response.get_json()["message"]


@pytest.mark.parametrize("kind", [{}, [], None, 5])
def test_an_event_type_that_is_not_a_string_is_a_400(client: FlaskClient, title: Title, kind: Any) -> None:
    """Found by the fuzz test: `{"type": {}}` was a 500 (unhashable type)."""
    response = client.post("/api/telemetry", json={"type": kind, "session_id": "s", "video_id": VIDEO_ID})
    assert response.status_code == 400 and "type" in response.get_json()["message"]


def test_a_field_another_event_type_uses_must_still_be_right(client: FlaskClient, title: Title) -> None:
    """Found by the fuzz test: a `started` event with `watched_s: {}` was published (dropped silently)."""
    event = {"type": "started", "session_id": "s", "video_id": VIDEO_ID, "startup_ms": 5, "watched_s": {}}
    response = client.post("/api/telemetry", json=event)
    assert response.status_code == 400 and "watched_s" in response.get_json()["message"]


@pytest.mark.parametrize("field, value", [("bytes", 1e300), ("bitrate", 1e20), ("at", 1e15),
                                          ("ms", -1)])
def test_telemetry_numbers_are_bounded(client: FlaskClient, title: Title, field: str, value: float) -> None:
    event = {"type": "segment", "session_id": "s", "video_id": VIDEO_ID, "bytes": 1000, "ms": 20,
             field: value}
    response = client.post("/api/telemetry", json=event)
    assert response.status_code == 400 and f"`{field}`" in response.get_json()["message"]


# --- PATCH /api/titles/<id> ----------------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [({"tags": 5}, "tags"), ({"tags": [1, 2]}, "tags"),
                                         ({"title": 5}, "title"), ({"title": "x" * 201}, "title"),
                                         ({"rating": 5}, "rating"), ({"tags": ["x"] * 51}, "tags")])
def test_a_bad_edit_is_a_400_naming_the_field_and_changes_nothing(client: FlaskClient, title: Title,
                                                                  body: dict[str, Any], field: str) -> None:
    response = client.patch(f"/api/titles/{VIDEO_ID}", json={"description": "new", **body})
    assert response.status_code == 400 and field in response.get_json()["message"]
    assert client.get(f"/api/titles/{VIDEO_ID}").get_json()["description"] == ""


def test_null_leaves_a_field_as_it_was(client: FlaskClient, title: Title) -> None:
    response = client.patch(f"/api/titles/{VIDEO_ID}", json={"title": None, "tags": ["a", "B"]})
    assert response.status_code == 200
    assert response.get_json()["title"] == "Test pattern" and response.get_json()["tags"] == ["a", "b"]


# --- paths and error bodies ----------------------------------------------------------------------------

def test_a_300_character_path_part_is_a_400_without_the_servers_path(client: FlaskClient, title: Title,
                                                                       services: Services) -> None:
    response = client.get(f"/origin/videos/{VIDEO_ID}/{'a' * 300}.m4s")
    assert response.status_code == 400 and response.get_json()["error"] == "InvalidRequest"
    assert str(services.data.root) not in response.get_data(as_text=True)


def test_an_unexpected_error_shows_an_id_not_its_text(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """A bug's message may hold a path or a secret: the body has an id, the log the details."""
    def broken() -> None:
        open("/no/such/dir/secret-file.txt")  # noqa: SIM115 - the error is the point
    app.add_url_rule("/api/broken", "broken", broken)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/api/broken")
    body = response.get_json()
    assert response.status_code == 500 and body["error"] == "InternalError"
    assert "secret-file" not in response.get_data(as_text=True)
    error_id = body["message"].split("error id ")[1].rstrip(").")
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_cursor_with_an_impossible_offset_is_a_400(client: FlaskClient, services: Services) -> None:
    response = client.get("/api/events/stream?topics=videos",
                          headers={"Last-Event-ID": "videos=" + "9" * 30})
    assert response.status_code == 400 and "Last-Event-ID" in response.get_json()["message"]


@pytest.mark.parametrize("query", ["limit=nan", "limit=-1", "limit=" + "9" * 30, "since=inf",
                                   "since=nan", "bucket_s=0"])
def test_analytics_numbers_are_checked(client: FlaskClient, insights: Services, query: str) -> None:
    response = client.get(f"/api/analytics/cache_hit_ratio?{query}")
    assert response.status_code == 400 and response.get_json()["error"] == "InvalidRequest"


def test_engine_errors_name_the_data_dir_without_its_path(client: FlaskClient, ingest: Services) -> None:
    missing = ingest.data.uploads / "gone.mp4"
    response = client.post("/api/jobs", json={"path": str(missing)})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "gone.mp4" in body
    assert str(ingest.data.root) not in body and "<data dir>" in body
