"""`GET /api/lab/replay` on a real waitress server: a generated sweep, clear 400s, the recorded trace
after playing a title through the real edges (and a 404 that leaks no path before that)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from server.http.runner import HttpServer
from server.http.services import Services
from tests.cdn.conftest import fetch, wait_for
from tests.http.conftest import VIDEO_ID


def get(server: HttpServer, **params: str) -> tuple[int, dict[str, Any]]:
    url = f"{server.url}/api/lab/replay?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_generated_sweep_has_each_size_and_policy_plus_min_and_the_needed_sizes(server) -> None:
    status, body = get(server, trace="sessions", requests="3000", titles="10", sizes="8M,64M",
                       policies="lru,fifo", edges="2", target="0.5")
    assert status == 200, body
    assert [(p["policy"], p["cache_bytes"] >> 20) for p in body["points"]] == [
        ("lru", 8), ("fifo", 8), ("belady", 8), ("lru", 64), ("fifo", 64), ("belady", 64)]
    assert [n["policy"] for n in body["needed"]] == ["lru", "fifo"] and body["headline"]
    assert body["trace"]["requests"] == 3000 and body["settings"]["edges"] == 2


def test_bad_arguments_are_400_naming_the_argument(server) -> None:
    status, body = get(server, trace="zipf", sizes="lots")
    assert status == 400 and "'lots' is not a size" in body["message"]
    status, body = get(server, trace="zipf", edges="0")
    assert status == 400 and "'edges'" in body["message"]
    status, body = get(server, trace="zipf", requests="99999999")
    assert status == 400 and "'requests'" in body["message"]
    status, body = get(server, trace="nope")
    assert status == 400 and "Unknown trace 'nope'" in body["message"]
    status, body = get(server, trace="zipf", ttl="")             # given but empty: named, not the default
    assert status == 400 and "'ttl'" in body["message"]
    status, body = get(server, trace="zipf", fill="3", fill_period="30")
    assert status == 400 and "'fill_period'" in body["message"]


def test_the_recorded_trace_is_404_until_edges_served_then_replays_what_they_served(
        server, cdn: Services, insights: Services) -> None:
    status, body = get(server, sizes="64M", policies="lru")
    assert status == 404 and "No edge requests recorded" in body["message"]
    assert str(insights.data.root) not in json.dumps(body)
    edge = cdn.cdn.edge("lon-1")
    folder = insights.data.origin / "videos" / VIDEO_ID
    segments = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.m4s"))[:3]
    for path in segments * 2:
        assert fetch(edge.url_for(VIDEO_ID, path))[0] == 200
    wait_for(lambda: get(server, sizes="64M", policies="lru")[0] == 200, timeout=30)
    wait_for(lambda: get(server, sizes="64M", policies="lru")[1]["trace"]["requests"] == 6, timeout=30)
    status, body = get(server, sizes="64M", policies="lru")
    lru = body["points"][0]
    assert (lru["policy"], lru["requests"], lru["hits"]) == ("lru", 6, 3)
