"""Audio track editing over real HTTP (waitress, loopback): the French rendition of a really
ingested two-language title is renamed and made the default; the master's AUDIO lines and the MPD's
audio sets say so, ffprobe still reads both renditions through the master, the segments stay byte
for byte as packaged, an edge that cached the old master serves the new one, and the change is
announced; bad input is a JSON 400/404 naming what is wrong and changes nothing."""

from __future__ import annotations

import posixpath
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from server.http.runner import HttpServer
from server.http.services import Services
from server.paths import DataDir
from tests.http.conftest import VIDEO_ID, Made, publish
from tests.http.test_http_delete_purge import cached_master, get
from tests.http.test_http_tracks import call, media_digests

API = f"/api/titles/{VIDEO_ID}/tracks/audio"


@pytest.fixture
def root(data: DataDir, tracks_title: Made) -> Path:
    publish(data, tracks_title)
    return data.origin / "videos" / VIDEO_ID


def audio_media(master: str) -> list[tuple[str, str, str, str]]:
    parsed = m3u8.loads(master)
    return [(m.uri, m.name, m.default, m.autoselect) for m in parsed.media if m.type == "AUDIO"]


def audio_sets(root: Path) -> list[tuple[str, str, str]]:
    """(representation id, Label, Role) of each audio AdaptationSet (mpegdash reads no Label)."""
    ns = {"d": "urn:mpeg:dash:schema:mpd:2011"}
    sets = ET.parse(root / "manifest.mpd").getroot().findall("d:Period/d:AdaptationSet", ns)
    assert MPEGDASHParser.parse(str(root / "manifest.mpd")).periods  # the schema's reader still reads it
    return [(a.find("d:Representation", ns).get("id"), a.findtext("d:Label", namespaces=ns),  # type: ignore[union-attr]
             a.find("d:Role", ns).get("value")) for a in sets if a.get("contentType") == "audio"]  # type: ignore[union-attr]


def audio_events(services: Services) -> list[dict[str, Any]]:
    assert services.events is not None
    events = services.events.poll("audio-edit-test", ["videos"], timeout=0.5)
    return [e.value for e in events if e.value.get("type") == "audio_changed"]


def test_rename_and_default_rewrite_both_manifests_and_leave_the_segments_as_packaged(
        server: HttpServer, root: Path, services: Services) -> None:
    before = media_digests(root)
    assert audio_media((root / "master.m3u8").read_text()) == [
        ("cmaf/audio/playlist.m3u8", "English", "YES", "YES"),
        ("cmaf/audio-2/playlist.m3u8", "Français", "NO", "YES")]

    changed = call(server, "PATCH", f"{API}/audio-2", json={"name": "Français (VF)", "default": True})
    assert changed.status_code == 200, changed.text
    assert [(a["id"], a["name"], a["default"]) for a in changed.json()["audio"]] == [
        ("audio", "English", False), ("audio-2", "Français (VF)", True)]
    assert audio_media((root / "master.m3u8").read_text()) == [
        ("cmaf/audio/playlist.m3u8", "English", "NO", "YES"),
        ("cmaf/audio-2/playlist.m3u8", "Français (VF)", "YES", "YES")]
    assert audio_sets(root) == [("audio", "English", "alternate"), ("audio-2", "Français (VF)", "main")]
    assert media_digests(root) == before
    assert [e["video_id"] for e in audio_events(services)] == [VIDEO_ID]
    listed = call(server, "GET", f"/api/titles/{VIDEO_ID}/tracks").json()
    assert [a["name"] for a in listed["audio"]] == ["English", "Français (VF)"]


def test_ffprobe_reads_both_renditions_through_the_edited_master(server: HttpServer, root: Path) -> None:
    assert call(server, "PATCH", f"{API}/audio-2", json={"default": True}).status_code == 200
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "csv=p=0", "-select_streams", "a", "-show_entries",
                          "stream=codec_name:stream_tags=language", str(root / "master.m3u8")],
                         check=True, capture_output=True, text=True)
    assert {"aac,eng", "aac,fra"} <= set(out.stdout.split())  # both renditions, named by language


def test_an_edge_that_cached_the_old_master_serves_the_edited_one(
        cdn: Services, server: HttpServer, root: Path) -> None:
    master = cached_master(cdn)
    assert call(server, "PATCH", f"{API}/audio-2", json={"name": "Version française"}).status_code == 200
    status, cache, body = get(master)
    assert (status, cache) == (200, "MISS")
    assert "Version française" in [name for _uri, name, _d, _a in audio_media(body.decode())]
    playlist = posixpath.join(posixpath.dirname(master), "cmaf/audio-2/playlist.m3u8")
    assert get(playlist)[0] == 200


def test_bad_input_is_refused_naming_it_and_changes_nothing(server: HttpServer, root: Path,
                                                            data: DataDir) -> None:
    before = (root / "master.m3u8").read_text(), (root / "manifest.mpd").read_text()
    unknown = call(server, "PATCH", f"{API}/audio-9", json={"name": "Deutsch"})
    empty = call(server, "PATCH", f"{API}/audio-2", json={"name": "   "})
    taken = call(server, "PATCH", f"{API}/audio-2", json={"name": "english"})
    undefault = call(server, "PATCH", f"{API}/audio", json={"default": False})
    nothing = call(server, "PATCH", f"{API}/audio", json={})
    typed = call(server, "PATCH", f"{API}/audio", json={"name": 3})
    foreign = call(server, "PATCH", f"{API}/audio-2", json={"default": True},
                   headers={"Origin": "https://evil.example"})
    responses = (unknown, empty, taken, undefault, nothing, typed, foreign)
    assert [r.status_code for r in responses] == [404, 400, 400, 400, 400, 400, 403]
    assert "audio, audio-2" in unknown.json()["hint"]
    assert empty.json()["message"] == "A track name cannot be empty."
    assert "already named 'english'" in taken.json()["message"]
    assert "another audio track the default" in undefault.json()["hint"]
    for response in responses[:-1]:
        assert set(response.json()) == {"error", "message", "hint"}
        assert str(data.root) not in response.text
    assert ((root / "master.m3u8").read_text(), (root / "manifest.mpd").read_text()) == before
