"""The titles API: list, get, edit, delete to the trash and undo, with JSON errors."""

from __future__ import annotations

from flask.testing import FlaskClient

from server.catalog import Title
from tests.http.conftest import VIDEO_ID


def test_lists_published_titles_with_play_urls(client: FlaskClient, title: Title) -> None:
    body = client.get("/api/titles").get_json()
    assert [t["video_id"] for t in body["titles"]] == [VIDEO_ID]
    assert body["titles"][0]["urls"]["play_hls"] == f"/play/{VIDEO_ID}/master.m3u8"


def test_unknown_title_is_a_json_404_with_a_hint(client: FlaskClient) -> None:
    response = client.get("/api/titles/nope")
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"] == "NotFound" and "nope" in body["message"] and body["hint"]


def test_edit_changes_metadata_and_refuses_unknown_fields(client: FlaskClient, title: Title) -> None:
    edited = client.patch(f"/api/titles/{VIDEO_ID}", json={"title": "Bars", "tags": "A, b"})
    assert edited.status_code == 200 and edited.get_json()["tags"] == ["a", "b"]
    assert client.get(f"/api/titles/{VIDEO_ID}").get_json()["title"] == "Bars"
    refused = client.patch(f"/api/titles/{VIDEO_ID}", json={"duration": 1})
    assert refused.status_code == 400 and refused.get_json()["error"] == "InvalidRequest"


def test_edit_needs_a_json_object(client: FlaskClient, title: Title) -> None:
    response = client.patch(f"/api/titles/{VIDEO_ID}", data="title=x")
    assert response.status_code == 400 and "JSON object" in response.get_json()["message"]


def test_delete_moves_files_away_and_restore_brings_them_back(client: FlaskClient, title: Title) -> None:
    master = f"/origin/videos/{VIDEO_ID}/master.m3u8"
    assert client.get(master).status_code == 200
    deleted = client.delete(f"/api/titles/{VIDEO_ID}")
    assert deleted.status_code == 200 and deleted.get_json()["status"] == "deleted"
    assert client.get(master).status_code == 404
    assert client.get("/api/titles").get_json()["titles"] == []
    assert client.delete(f"/api/titles/{VIDEO_ID}").status_code == 409
    restored = client.post(deleted.get_json()["undo"])
    assert restored.status_code == 200 and restored.get_json()["status"] == "published"
    assert client.get(master).status_code == 200


def test_unknown_route_and_method_are_json_errors(client: FlaskClient) -> None:
    assert client.get("/api/nothing-here").get_json()["error"] == "NotFound"
    response = client.put("/api/titles")
    assert response.status_code == 405 and response.get_json()["error"] == "MethodNotAllowed"
