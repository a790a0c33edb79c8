"""The request guard: Host (DNS rebinding), Origin and Content-Type (cross-site requests), the opt-in
API token, long URLs, and CORS on media paths — over real waitress where the browser's view matters."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from server.catalog import Title
from server.http.app import create_app
from server.http.runner import HttpServer
from server.http.services import Services
from tests.http.conftest import VIDEO_ID

EVIL = "https://evil.example"


def raw(server: HttpServer, method: str, path: str, headers: dict[str, str],
        body: bytes | None = None) -> tuple[int, Any, bytes]:
    """One request exactly as a browser or an attacker would send it (http.client adds no Origin)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def edge_port(client: FlaskClient, name: str) -> int:
    return int(client.get(f"/api/edges/{name}").get_json()["port"])


@pytest.fixture
def token_server(services: Services) -> Iterator[HttpServer]:
    """The app with an API token, on real waitress."""
    app = create_app(services, {"TESTING": True, "API_TOKEN": "s3cret-token"})
    with HttpServer(app, on_stop=services.stopping) as running:
        yield running


# --- Host: a page whose name rebinds to 127.0.0.1 cannot read the API -------------------------------

def test_a_foreign_host_is_refused_before_anything_is_read(server: HttpServer, title: Title) -> None:
    status, headers, body = raw(server, "GET", "/api/titles", {"Host": f"rebind.evil.example:{server.port}"})
    assert status == 421 and b"rebind.evil.example" in body and b"vid-test-01" not in body
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}",
                                  "127.0.0.1"])
def test_loopback_names_are_answered(server: HttpServer, title: Title, host: str) -> None:
    status, _, body = raw(server, "GET", "/api/titles", {"Host": host.format(port=server.port)})
    assert status == 200 and VIDEO_ID.encode() in body


def test_extra_hosts_come_from_the_setting(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIFLIX_ALLOWED_HOSTS", "studio.lan, Media.Example.")
    client = create_app(services, {"TESTING": True}).test_client()
    assert client.get("/api/health", headers={"Host": "studio.lan:8080"}).status_code == 200
    assert client.get("/api/health", headers={"Host": "media.example"}).status_code == 200
    assert client.get("/api/health", headers={"Host": "other.example"}).status_code == 421


# --- Origin and Content-Type: a web page cannot change anything ------------------------------------

def test_a_cross_site_post_cannot_stop_an_edge(server: HttpServer, cdn: Services,
                                               client: FlaskClient) -> None:
    name = cdn.cdn.topology.edges[0].name
    port = edge_port(client, name)
    status, _, body = raw(server, "POST", f"/api/edges/{name}/stop",
                          {"Origin": EVIL, "Content-Type": "application/json"}, b"{}")
    assert status == 403 and b"evil.example" in body
    assert accepts(port), "the edge must still be running"


def test_a_form_post_cannot_stop_an_edge(client: FlaskClient, cdn: Services) -> None:
    """A `<form enctype=text/plain>` sends no preflight; its content type alone gives it away."""
    name = cdn.cdn.topology.edges[0].name
    response = client.post(f"/api/edges/{name}/stop", data="x=1", content_type="text/plain")
    assert response.status_code == 415 and response.get_json()["error"] == "UnsupportedMediaType"
    assert "application/json" in response.get_json()["hint"]
    assert accepts(edge_port(client, name))


def test_the_servers_own_pages_and_non_browsers_may_change_things(server: HttpServer, cdn: Services,
                                                                  client: FlaskClient) -> None:
    name = cdn.cdn.topology.edges[0].name
    own = f"http://127.0.0.1:{server.port}"
    status, _, _ = raw(server, "POST", f"/api/edges/{name}/stop", {"Origin": own})
    assert status == 200 and not accepts(edge_port(client, name))
    status, _, _ = raw(server, "POST", f"/api/edges/{name}/start", {})  # curl, the CLI: no Origin
    assert status == 200 and accepts(edge_port(client, name))


def test_a_cross_site_upload_is_refused_and_leaves_nothing(server: HttpServer, ingest: Services) -> None:
    status, _, _ = raw(server, "POST", "/api/uploads?name=clip.mp4",
                       {"Origin": EVIL, "Content-Type": "application/octet-stream"}, b"\0" * 1000)
    assert status == 403
    status, _, _ = raw(server, "POST", "/api/uploads?name=clip.mp4", {"Content-Type": "text/plain"},
                       b"\0" * 1000)
    assert status == 415
    kept = [p.name for p in ingest.data.uploads.iterdir() if not p.name.endswith(".part")]
    assert kept == [] and ingest.ingest.list_jobs() == []  # a refused body's .part goes with its connection


@pytest.mark.parametrize("content_type", ["application/octet-stream", "video/mp4"])
def test_uploads_keep_their_byte_content_types(client: FlaskClient, ingest: Services,
                                               content_type: str) -> None:
    response = client.post("/api/uploads?name=clip.mp4", data=b"not media", content_type=content_type)
    assert response.status_code == 202


# --- the opt-in API token ----------------------------------------------------------------------------

def test_with_a_token_the_api_needs_it_and_media_stays_open(token_server: HttpServer, title: Title) -> None:
    status, headers, body = raw(token_server, "GET", "/api/titles", {})
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert VIDEO_ID.encode() not in body
    assert raw(token_server, "GET", "/api/titles", {"Authorization": "Bearer wrong"})[0] == 401
    assert raw(token_server, "GET", "/api/titles", {"Authorization": "Bearer s3cret-token"})[0] == 200
    assert raw(token_server, "GET", f"/origin/videos/{VIDEO_ID}/master.m3u8", {})[0] == 200


def test_the_token_setting_comes_from_the_environment(services: Services,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIFLIX_API_TOKEN", "from-env")
    client = create_app(services, {"TESTING": True}).test_client()
    assert client.get("/api/health").status_code == 401
    assert client.get("/api/health", headers={"Authorization": "Bearer from-env"}).status_code == 200


def test_the_studio_client_sends_the_token(qtbot: Any, token_server: HttpServer, title: Title,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.client import ApiClient

    monkeypatch.setenv("MINIFLIX_API_TOKEN", "s3cret-token")
    with_token, without = ApiClient(token_server.url), ApiClient(token_server.url, token="")
    try:
        assert _call(qtbot, with_token.get, "/api/titles")[0]["titles"][0]["video_id"] == VIDEO_ID
        event = {"type": "started", "session_id": "s", "video_id": VIDEO_ID, "startup_ms": 5}
        assert _call(qtbot, with_token.post, "/api/telemetry", event)[1] is None
        assert _call(qtbot, without.get, "/api/titles")[1].status == 401
        with qtbot.waitSignal(with_token.connection_changed, timeout=10_000) as signal:
            with_token.start_events(["videos"])
        assert signal.args[0] is True, "the event stream carries the token too"
    finally:
        for client in (with_token, without):
            client.close()
            client.deleteLater()


def _call(qtbot: Any, method: Any, *args: Any) -> tuple[Any, Any]:
    out: dict[str, Any] = {}
    method(*args, on_ok=lambda r: out.setdefault("ok", r), on_error=lambda e: out.setdefault("err", e))
    qtbot.waitUntil(lambda: bool(out), timeout=20_000)
    return out.get("ok"), out.get("err")


# --- long URLs -----------------------------------------------------------------------------------------

def test_a_5000_character_path_is_414(client: FlaskClient, title: Title) -> None:
    response = client.get("/origin/videos/" + "a" * 5000)
    assert response.status_code == 414 and response.get_json()["error"] == "UriTooLong"


# --- CORS: media readable from any origin, the API not -------------------------------------------------

def test_media_answers_carry_cors_headers(client: FlaskClient, cdn: Services, title: Title) -> None:
    headers = {"Origin": "https://player.example"}
    for path in (f"/origin/videos/{VIDEO_ID}/master.m3u8", f"/steering/{VIDEO_ID}.json",
                 f"/play/{VIDEO_ID}/master.m3u8", f"/steer/{VIDEO_ID}", "/origin/videos/nope/master.m3u8"):
        response = client.get(path, headers=headers)
        assert response.headers.get("Access-Control-Allow-Origin") == "*", path
        assert "Content-Range" in response.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in client.get("/api/titles", headers=headers).headers


def test_a_range_preflight_is_answered(client: FlaskClient, title: Title) -> None:
    response = client.options(f"/origin/videos/{VIDEO_ID}/master.m3u8",
                              headers={"Origin": "https://player.example",
                                       "Access-Control-Request-Method": "GET",
                                       "Access-Control-Request-Headers": "range"})
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Range" in response.headers["Access-Control-Allow-Headers"]
    assert "GET" in response.headers["Access-Control-Allow-Methods"]

