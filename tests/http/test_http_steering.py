"""/steer, /play and the steering manifest over real HTTP, with real edges and signed URLs."""

from __future__ import annotations

import http.client
import json
import urllib.parse

import m3u8
from flask.testing import FlaskClient

from server.catalog import Title
from server.http.runner import HttpServer
from server.http.services import Services
from tests.http.conftest import VIDEO_ID


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_steer_ranks_every_edge_with_reasons_nearest_first(client: FlaskClient, cdn: Services,
                                                           title: Title) -> None:
    body = client.get(f"/steer/{VIDEO_ID}?region=eu-west").get_json()
    ranked = body["ranked"]
    assert len(ranked) == 6 and [r["rank"] for r in ranked] == [1, 2, 3, 4, 5, 6]
    assert ranked[0]["region"] == "eu-west" and all(r["reasons"] for r in ranked)
    by_latlon = client.get(f"/steer/{VIDEO_ID}?latlon=1.3,103.8").get_json()["ranked"]
    assert by_latlon[0]["region"] == "ap-southeast"


def test_steer_refuses_bad_locations_and_unknown_titles(client: FlaskClient, cdn: Services,
                                                        title: Title) -> None:
    assert client.get(f"/steer/{VIDEO_ID}?latlon=north").status_code == 400
    assert client.get(f"/steer/{VIDEO_ID}?latlon=95,0").status_code == 400
    assert client.get("/steer/nope?region=eu-west").status_code == 404


def edge_url(server: HttpServer, name: str, region: str) -> str:
    """A signed edge URL of one title object, as the router hands it to a player: /play → /route → 302."""
    play = f"{server.url}/play/{VIDEO_ID}/master.m3u8?region={region}"
    router = urllib.parse.urljoin(play, fetch(play)[1]["location"])
    status, headers, _ = fetch(urllib.parse.urljoin(router, name))
    assert status == 302, name
    return headers["location"]


def test_play_sends_a_plain_client_through_the_router_to_signed_edge_urls(server: HttpServer, cdn: Services,
                                                                          title: Title) -> None:
    play = f"{server.url}/play/{VIDEO_ID}/master.m3u8?region=us-east"
    status, headers, _ = fetch(play)
    best = cdn.steering.rank(VIDEO_ID, "us-east", publish=False)[0].edge
    assert status == 302 and headers["x-edge"] == best and headers["cache-control"] == "no-store"
    master_url = urllib.parse.urljoin(play, headers["location"])
    assert master_url.startswith(f"{server.url}/route/{VIDEO_ID}/") and "region=us-east" in master_url
    status, _, body = fetch(master_url)
    variant = m3u8.loads(body.decode()).playlists[0].uri
    assert status == 200 and "://" not in variant
    playlist_url = urllib.parse.urljoin(master_url, variant)
    status, _, media = fetch(playlist_url)
    segment = m3u8.loads(media.decode()).segments[0].uri
    assert status == 200 and "://" not in segment, "the router serves media playlists itself"
    status, headers, _ = fetch(urllib.parse.urljoin(playlist_url, segment))
    assert status == 302 and "/t/" in headers["location"] and headers["x-edge"] == best
    status, edge_headers, data = fetch(headers["location"])
    assert status == 200 and edge_headers["x-edge"] == best
    assert data == cdn.store.read(f"videos/{VIDEO_ID}/{variant.rsplit('/', 1)[0]}/{segment}")


def test_tampered_or_expired_tokens_get_403(server: HttpServer, cdn: Services, title: Title) -> None:
    location = edge_url(server, "cmaf/360p/init.mp4", "eu-west")
    assert fetch(location)[0] == 200
    token = location.split("/t/", 1)[1].split("/", 1)[0]
    mac = token.split(".", 1)[1]
    tampered = location.replace(token, token.split(".")[0] + "." + ("A" if mac[0] != "A" else "B") + mac[1:])
    assert fetch(tampered)[0] == 403
    other_title = location.replace(f"/videos/{VIDEO_ID}/", "/videos/other-title/")
    assert fetch(other_title)[0] == 403
    expired = location.replace(token, cdn.cdn.signer.sign(VIDEO_ID, 1_000_000))
    status, _, body = fetch(expired)
    assert status == 403 and "expired" in json.loads(body)["message"]


def test_a_stopped_edge_is_never_a_redirect_target(server: HttpServer, cdn: Services, title: Title) -> None:
    best = fetch(f"{server.url}/play/{VIDEO_ID}/master.m3u8?region=eu-west")[1]["x-edge"]
    cdn.cdn.stop_edge(best)
    status, headers, _ = fetch(f"{server.url}/play/{VIDEO_ID}/master.m3u8?region=eu-west")
    assert status == 302 and headers["x-edge"] != best


def test_steering_client_gets_one_pathway_per_healthy_edge(server: HttpServer, cdn: Services,
                                                           title: Title) -> None:
    far = cdn.steering.rank(VIDEO_ID, "eu-west", publish=False)[-1].edge
    cdn.cdn.stop_edge(far)
    status, headers, body = fetch(f"{server.url}/play/{VIDEO_ID}/master.m3u8?steering=1&region=eu-west")
    assert status == 200 and headers["content-type"].startswith("application/vnd.apple.mpegurl")
    text = body.decode()
    steering_line = next(line for line in text.splitlines() if line.startswith("#EXT-X-CONTENT-STEERING"))
    pathways = {line.split('PATHWAY-ID="')[1].split('"')[0]
                for line in text.splitlines() if line.startswith("#EXT-X-STREAM-INF")}
    healthy = [r.edge for r in cdn.steering.rank(VIDEO_ID, "eu-west", publish=False) if r.eligible]
    assert pathways == set(healthy) and far not in pathways and len(healthy) == 5
    assert f'PATHWAY-ID="{healthy[0]}"' in steering_line
    playlist = m3u8.loads(text)
    assert len(playlist.playlists) == 2 * 5 and all("/t/" in p.uri for p in playlist.playlists)
    assert len({m.group_id for m in playlist.media}) == 5
    uri = steering_line.split('SERVER-URI="')[1].split('"')[0]
    manifest = json.loads(fetch(server.url + uri)[2])
    assert manifest["VERSION"] == 1 and manifest["TTL"] > 0
    assert manifest["PATHWAY-PRIORITY"] == healthy


def test_steering_manifest_drops_an_edge_once_it_stops(client: FlaskClient, cdn: Services,
                                                       title: Title) -> None:
    before = client.get(f"/steering/{VIDEO_ID}.json?region=eu-west").get_json()["PATHWAY-PRIORITY"]
    client.post(f"/api/edges/{before[0]}/stop")
    after = client.get(f"/steering/{VIDEO_ID}.json?region=eu-west").get_json()["PATHWAY-PRIORITY"]
    assert before[0] not in after and after[0] == before[1]
    client.post(f"/api/edges/{before[0]}/start")
    again = client.get(f"/steering/{VIDEO_ID}.json?region=eu-west").get_json()["PATHWAY-PRIORITY"]
    assert again[0] == before[0]


def test_every_decision_is_a_steering_event(client: FlaskClient, cdn: Services, title: Title) -> None:
    client.get(f"/steer/{VIDEO_ID}?region=us-east")
    cdn.steering.events.flush()
    events = cdn.events.poll("t", ["steering"], timeout=1)
    assert events and events[-1].value["client_region"] == "us-east"
    us_edges = {e.name for e in cdn.cdn.topology.edges if e.region == "us-east"}
    assert events[-1].value["chosen"] in us_edges


def test_edge_urls_from_play_serve_ranges_and_refuse_traversal(server: HttpServer, cdn: Services,
                                                               title: Title) -> None:
    location = edge_url(server, "cmaf/360p/seg_00001.m4s", "eu-west")
    base = location.split(f"/videos/{VIDEO_ID}/", 1)[0] + f"/videos/{VIDEO_ID}"
    whole = cdn.store.read(f"videos/{VIDEO_ID}/cmaf/360p/seg_00001.m4s")
    status, headers, body = fetch(f"{base}/cmaf/360p/seg_00001.m4s", {"Range": "bytes=10-59"})
    assert status == 206 and body == whole[10:60] and headers["content-range"] == f"bytes 10-59/{len(whole)}"
    escapes = ("../../../catalog.sqlite", "%2e%2e/%2e%2e/%2e%2e/catalog.sqlite", "..%2f..%2fkeys/edge.key")
    for escape in escapes:
        status, _, body = fetch(f"{base}/{escape}")
        assert status in (403, 404) and b"SQLite" not in body
