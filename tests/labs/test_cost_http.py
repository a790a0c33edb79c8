"""`GET /api/lab/cost` on a real waitress server over real edges and analytics: the title's bytes and
edge traffic priced, the double-cache what-if from the edges' own caches, clear 400s and a 404."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from server.http.runner import HttpServer
from server.http.services import Services
from tests.cdn.conftest import fetch, wait_for
from tests.http.conftest import VIDEO_ID


def get(server: HttpServer, **params: str) -> tuple[int, dict[str, Any]]:
    url = f"{server.url}/api/lab/cost?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_title_is_priced_from_its_origin_bytes_and_what_the_edges_served(
        server, cdn: Services, insights: Services) -> None:
    status, body = get(server)
    assert status == 200, body
    folder = insights.data.origin / "videos" / VIDEO_ID
    on_disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    [title] = body["titles"]
    assert (title["stored_bytes"], title["edge_bytes"], title["cpu_s"]) == (on_disk, 0, None)
    segments = sorted(p for p in folder.rglob("*.m4s"))[:2]
    for path in segments * 2:
        assert fetch(cdn.cdn.edge("lon-1").url_for(VIDEO_ID, path.relative_to(folder).as_posix()))[0] == 200
    served = 2 * sum(p.stat().st_size for p in segments)
    wait_for(lambda: get(server)[1]["titles"][0]["edge_bytes"] == served, timeout=30)
    status, body = get(server, title=VIDEO_ID, price_egress_edge="1", what_if="double-cache")
    assert status == 200, body
    title = body["titles"][0]
    assert title["edge_usd_month"] == pytest.approx(served / 2**30 * 365.25 / 12)
    [edge] = body["whatifs"][0]["figures"]["edges"]
    assert edge["edge"] == "lon-1" and edge["requests"] == 4
    assert edge["origin_bytes_now"] == edge["origin_bytes_doubled"] == served // 2   # first requests only


def test_bad_prices_and_what_ifs_are_400_and_an_unknown_title_404_without_paths(server, insights) -> None:
    status, body = get(server, price_storage="-2")
    assert status == 400 and "'price_storage'" in body["message"]
    status, body = get(server, what_if="bigger")
    assert status == 400 and "Unknown what-if 'bigger'" in body["message"]
    status, body = get(server, title="nope")
    assert status == 404 and "No title 'nope'" in body["message"]
    assert str(insights.data.root) not in json.dumps(body)
