"""Edge administration over the API: list, stop/start for real, throttle, errors."""

from __future__ import annotations

import socket

import pytest
from flask.testing import FlaskClient

from server.catalog import Title
from server.http.services import Services
from tests.http.conftest import VIDEO_ID


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_lists_every_edge_with_spec_and_health(client: FlaskClient, cdn: Services) -> None:
    edges = client.get("/api/edges").get_json()["edges"]
    assert len(edges) == len(cdn.cdn.topology.edges) == 6
    assert len({e["region"] for e in edges}) == 3
    for edge in edges:
        assert edge["healthy"] and accepts(edge["port"])
        assert {"rtt_ms", "capacity_bytes", "policy", "load", "cached_bytes", "hit_ratio"} <= set(edge)


def test_stop_closes_the_listener_and_start_reopens_it(client: FlaskClient, cdn: Services) -> None:
    name = cdn.cdn.topology.edges[0].name
    port = client.get(f"/api/edges/{name}").get_json()["port"]
    stopped = client.post(f"/api/edges/{name}/stop").get_json()
    assert stopped["healthy"] is False and not accepts(port)
    started = client.post(f"/api/edges/{name}/start").get_json()
    assert started["healthy"] is True and accepts(started["port"])


def test_throttle_changes_the_link_steering_sees(client: FlaskClient, cdn: Services, title: Title) -> None:
    name = client.get(f"/steer/{VIDEO_ID}?region=eu-west").get_json()["ranked"][0]["edge"]
    assert client.post(f"/api/edges/{name}/throttle", json={"mbps": 0.5}).get_json()["bandwidth_mbps"] == 0.5
    ranked = client.get(f"/steer/{VIDEO_ID}?region=eu-west").get_json()["ranked"]
    throttled = next(r for r in ranked if r["edge"] == name)
    assert any("0.5 Mbit/s" in reason for reason in throttled["reasons"]) and throttled["rank"] > 1
    uncapped = client.post(f"/api/edges/{name}/throttle", json={"mbps": None}).get_json()
    assert uncapped["bandwidth_mbps"] is None


@pytest.mark.parametrize("path, body, status", [
    ("/api/edges/nowhere", None, 404),
    ("/api/edges/nowhere/stop", {}, 404),
    ("/api/edges/{edge}/throttle", {"mbps": -1}, 400),
    ("/api/edges/{edge}/throttle", {"mbps": "fast"}, 400),
    ("/api/edges/{edge}/throttle", {"mbps": True}, 400),
])
def test_bad_edge_requests(client: FlaskClient, cdn: Services, path: str, body: dict[str, object] | None,
                           status: int) -> None:
    url = path.format(edge=cdn.cdn.topology.edges[0].name)
    response = client.get(url) if body is None else client.post(url, json=body)
    assert response.status_code == status and response.get_json()["message"]
