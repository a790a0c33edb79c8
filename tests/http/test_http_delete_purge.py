"""Deleted means gone (issue 16): after `DELETE /api/titles/<id>` the edges stop serving the title —
its master, playlists and segments — even with links signed before; a restore makes it play again."""

from __future__ import annotations

import posixpath
import urllib.error
import urllib.request

from server.catalog import Title
from server.http.runner import HttpServer
from server.http.services import Services
from tests.http.conftest import VIDEO_ID


def get(url: str) -> tuple[int, str, bytes]:
    """(status, X-Cache, body) of one real request; error statuses are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers.get("X-Cache", ""), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("X-Cache", ""), exc.read()


def api(server: HttpServer, method: str, path: str) -> int:
    request = urllib.request.Request(server.url + path, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def first_uri(playlist: bytes) -> str:
    """The first URI line of a playlist (a media playlist in a master; a segment in a media one)."""
    return next(line for line in playlist.decode().splitlines() if line and not line.startswith("#"))


def cached_master(services: Services) -> str:
    """The signed edge URL of the title's master, asked twice so that the edge now holds it (a HIT)."""
    master = services.steering.best(VIDEO_ID, region="eu-west").url
    assert master is not None
    get(master)
    assert get(master)[:2] == (200, "HIT")
    return master


def playback_urls(services: Services) -> list[str]:
    """Signed edge URLs of the master, one media playlist and one segment, as a player walks them."""
    master = services.steering.best(VIDEO_ID, region="eu-west").url
    assert master is not None
    playlist = posixpath.join(posixpath.dirname(master), first_uri(get(master)[2]))
    segment = posixpath.join(posixpath.dirname(playlist), first_uri(get(playlist)[2]))
    return [master, playlist, segment]


def test_a_deleted_title_stops_playing_from_the_edges_and_a_restored_one_plays_again(
        cdn: Services, title: Title, server: HttpServer) -> None:
    urls = playback_urls(cdn)
    for url in urls:
        get(url)
        assert get(url)[:2] == (200, "HIT"), url
    assert api(server, "DELETE", f"/api/titles/{VIDEO_ID}") == 200
    for url in urls:
        status, _, body = get(url)
        assert status in (404, 410), (url, status)
        assert b"#EXTM3U" not in body
    assert all(edge.has_title(VIDEO_ID) == 0 for edge in cdn.cdn.edges.values())
    assert api(server, "POST", f"/api/titles/{VIDEO_ID}/restore") == 200
    for url in urls:
        assert get(url)[:2] == (200, "MISS"), url
        assert get(url)[:2] == (200, "HIT"), url
