"""Track editing over real HTTP (waitress, loopback): a really ingested title with English and
French audio and English subtitles lists its tracks; a subtitle file is added (its name's tags give
language and SDH), renamed, made the default and removed (with an undo body that adds it back),
each time published again in both manifests without touching the media; bad input is a JSON 400
naming what is wrong, never a server path."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import m3u8
import pytest
import requests

from server.http.runner import HttpServer
from server.paths import DataDir
from tests.http.browser import Browser
from tests.http.conftest import VIDEO_ID, Made, publish
from tests.http.test_http_real_clients import wait_for
from tests.http.tracks_title import FRENCH_SDH

API = f"/api/titles/{VIDEO_ID}/tracks"


@pytest.fixture
def root(data: DataDir, tracks_title: Made) -> Path:
    publish(data, tracks_title)
    return data.origin / "videos" / VIDEO_ID


def call(server: HttpServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, server.url + path, timeout=60, **kwargs)


def media_digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted((root / "cmaf").rglob("*")) if p.is_file()}


def subtitle_media(root: Path) -> list[tuple[str, str, str | None]]:
    master = m3u8.load(str(root / "master.m3u8"))
    return [(m.language, m.name, m.default) for m in master.media if m.type == "SUBTITLES"]


def french_upload(**extra: Any) -> dict[str, Any]:
    return {"file_name": "bridge.fr.sdh.srt",
            "content_base64": base64.b64encode(FRENCH_SDH.encode("cp1252")).decode(), **extra}


def test_lists_both_audio_languages_and_the_subtitle_track(server: HttpServer, root: Path) -> None:
    listed = call(server, "GET", API).json()
    assert [(a["id"], a["language"], a["name"], a["default"]) for a in listed["audio"]] == [
        ("audio", "eng", "English", True), ("audio-2", "fra", "Français", False)]
    assert [(t["id"], t["language"], t["name"]) for t in listed["subtitles"]] == [("eng", "eng", "English")]


def test_add_rename_default_remove_and_undo_republish_without_touching_the_media(
        server: HttpServer, root: Path) -> None:
    before, [english] = media_digests(root), subtitle_media(root)
    added = call(server, "POST", f"{API}/subtitles", json=french_upload())
    assert added.status_code == 201, added.text
    assert added.json()["added"] == "fr-sdh"
    assert subtitle_media(root) == [english, ("fr", "Français (SDH)", "NO")]
    assert "Le pont à l'aube" in (root / "subs" / "fr-sdh.vtt").read_text(encoding="utf-8")

    renamed = call(server, "PATCH", f"{API}/subtitles/fr-sdh", json={"name": "Français (sourds)",
                                                                      "default": True})
    assert renamed.status_code == 200, renamed.text
    assert subtitle_media(root) == [("eng", "English", "NO"), ("fr", "Français (sourds)", "YES")]

    removed = call(server, "DELETE", f"{API}/subtitles/fr-sdh")
    assert removed.status_code == 200, removed.text
    assert subtitle_media(root) == [("eng", "English", "NO")]  # no default left: none is forced on
    assert not (root / "subs" / "fr-sdh").exists()

    undone = call(server, "POST", f"{API}/subtitles", json=removed.json()["undo"])
    assert undone.status_code == 201, undone.text
    assert subtitle_media(root) == [("eng", "English", "NO"), ("fr", "Français (sourds)", "YES")]
    assert media_digests(root) == before


def test_bad_input_is_a_json_error_naming_it_without_server_paths(server: HttpServer, root: Path,
                                                                  data: DataDir) -> None:
    before = subtitle_media(root)
    notes = call(server, "POST", f"{API}/subtitles",
                 json={"file_name": "notes.txt", "content_base64": base64.b64encode(b"hi").decode()})
    junk = call(server, "POST", f"{API}/subtitles", json=french_upload(
        content_base64=base64.b64encode(b"these are my notes, not subtitles\n").decode()))
    unknown = call(server, "DELETE", f"{API}/subtitles/de")
    typed = call(server, "PATCH", f"{API}/subtitles/eng", json={"default": "yes"})
    missing = call(server, "GET", "/api/titles/nope/tracks")
    assert [r.status_code for r in (notes, junk, unknown, typed, missing)] == [400, 400, 404, 400, 404]
    assert notes.json()["message"] == "notes.txt: not a subtitle file we read."
    assert junk.json()["message"].startswith("bridge.fr.sdh.srt gives no subtitles")
    assert "eng" in unknown.json()["hint"]
    assert typed.json()["message"] == "`default` must be a boolean."
    for response in (notes, junk, unknown, typed, missing):
        assert set(response.json()) == {"error", "message", "hint"}
        assert str(data.root) not in response.text
    assert subtitle_media(root) == before


def test_a_body_over_the_api_limit_is_refused_before_anything_changes(server: HttpServer, root: Path) -> None:
    before = subtitle_media(root)
    huge = french_upload(content_base64=base64.b64encode(b"x" * 2_000_000).decode())
    response = call(server, "POST", f"{API}/subtitles", json=huge)
    assert response.status_code == 413
    assert subtitle_media(root) == before


def test_a_foreign_origin_cannot_change_tracks(server: HttpServer, root: Path) -> None:
    before = subtitle_media(root)
    response = call(server, "DELETE", f"{API}/subtitles/eng", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert subtitle_media(root) == before


def test_a_player_following_the_router_gets_the_subtitle_segments_from_an_edge(
        cdn: Any, server: HttpServer, root: Path) -> None:
    """VLC and hls.js fetch `subs/<id>/seg_*.vtt` through the router's 302 to an edge, like the media."""
    playlist = call(server, "GET", f"/route/{VIDEO_ID}/-/subs/eng/playlist.m3u8")
    assert playlist.status_code == 200
    segment = call(server, "GET", f"/route/{VIDEO_ID}/-/subs/eng/seg_00001.vtt")
    assert segment.status_code == 200, segment.text
    assert segment.history and segment.history[0].status_code == 302
    assert segment.text.startswith("WEBVTT\nX-TIMESTAMP-MAP=") and "The bridge at dawn" in segment.text


def test_hls_js_in_chromium_switches_to_french_audio_and_shows_the_english_cues(
        cdn: Any, server: HttpServer, root: Path, tmp_path: Path) -> None:
    """`hls.audioTrack = 1` after a second of English: hls.js fetches the French rendition's
    segments; `hls.subtitleTrack = 0`: the WebVTT segments load and the cues sit at their times."""
    page = f"{server.url}/web/player.html?v={VIDEO_ID}&session=tracks-1&audio=1&subtitle=0&switch_at=1"
    browser = Browser(page, tmp_path / "chromium-profile")
    report = lambda: call(server, "GET", "/web/report/tracks-1").json() or {}  # noqa: E731
    try:
        wait_for(lambda: report().get("switchedAt") is not None, 60, "hls.js to play a second and switch")
        wait_for(lambda: any("/cmaf/audio-2/" in f for f in report().get("trackFiles", []))
                 and any(t["cues"] for t in report().get("textTracks", [])), 60,
                 "French audio segments and English cues")
        last = report()
    finally:
        browser.close()
    assert last["fatal"] is None, last["errors"]
    assert [(t["name"], t["lang"]) for t in last["audioTracks"]] == [("English", "eng"), ("Français", "fra")]
    assert (last["audioTrack"], last["subtitleTrack"]) == (1, 0)
    assert [(t["name"], t["lang"]) for t in last["subtitleTracks"]] == [("English", "eng")]
    [shown] = [t for t in last["textTracks"] if t["cues"]]
    assert (shown["language"], shown["mode"]) == ("eng", "showing")
    first = {c["text"]: (round(c["start"], 1), round(c["end"], 1)) for c in shown["cues"]}
    assert first["The bridge at dawn"] == (1.0, 3.5)
    assert any(f.endswith(".vtt") and "/subs/eng/" in f for f in last["trackFiles"])
