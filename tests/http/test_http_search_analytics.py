"""Search and analytics over the API, fed by the same event log the API publishes to."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from server.http.services import Services
from tests.http.conftest import VIDEO_ID


def eventually(fetch: Callable[[], Any], check: Callable[[Any], bool], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_search_finds_a_title_and_follows_edits(client: FlaskClient, insights: Services) -> None:
    found = client.get("/api/search?q=pattern").get_json()
    assert [h["video_id"] for h in found["hits"]] == [VIDEO_ID] and found["total"] == 1
    client.patch(f"/api/titles/{VIDEO_ID}", json={"title": "Lighthouse at dusk"})
    renamed = eventually(lambda: client.get("/api/search?q=lighthouse").get_json(), lambda r: r["total"])
    assert [h["video_id"] for h in renamed["hits"]] == [VIDEO_ID]
    assert "Lighthouse</mark>" in renamed["hits"][0]["title_html"]


def test_search_facets_and_bad_arguments(client: FlaskClient, insights: Services) -> None:
    assert client.get("/api/search?q=pattern&tags=test").get_json()["total"] == 1
    assert client.get("/api/search?q=pattern&tags=cats").get_json()["total"] == 0
    assert client.get("/api/search?q=x&sort=loudest").status_code == 400
    assert client.get("/api/search?q=x&limit=0").status_code == 400


def test_deleted_titles_leave_search(client: FlaskClient, insights: Services) -> None:
    client.delete(f"/api/titles/{VIDEO_ID}")
    gone = eventually(lambda: client.get("/api/search?q=pattern").get_json(), lambda r: r["total"] == 0)
    assert gone["total"] == 0


def test_every_named_query_answers(client: FlaskClient, insights: Services) -> None:
    names = [q["name"] for q in client.get("/api/analytics").get_json()["queries"]]
    assert "views" in names and len(names) >= 5
    for name in names:
        response = client.get(f"/api/analytics/{name}")
        assert response.status_code == 200, (name, response.get_json())
        assert isinstance(response.get_json()["rows"], list)


def test_telemetry_reaches_analytics(client: FlaskClient, insights: Services) -> None:
    started = {"type": "started", "session_id": "s-1", "video_id": VIDEO_ID, "edge": "e", "region": "eu-west",
               "rendition": "360p", "bitrate": 800000, "startup_ms": 300}
    assert client.post("/api/telemetry", json=started).status_code == 202
    views = eventually(lambda: client.get("/api/analytics/views").get_json()["rows"],
                       lambda rows: any(r["video_id"] == VIDEO_ID for r in rows))
    assert {r["video_id"]: r["views"] for r in views}[VIDEO_ID] == 1


@pytest.mark.parametrize("path, status", [
    ("/api/analytics/no_such_query", 404),
    ("/api/analytics/views?bogus=1", 400),
])
def test_bad_analytics_requests(client: FlaskClient, insights: Services, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status and response.get_json()["hint"]
