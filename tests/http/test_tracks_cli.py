"""`main.py audio list|rename|default` on a really ingested two-language title, and what a CLI track
change does to a running server's edges: they stop serving the cached old master (the server
follows the change's event and purges them) instead of keeping it until their TTL."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

import m3u8
import pytest

from server.cdn.edit_purge import EditPurge
from server.http.services import Services
from server.paths import DataDir
from tests.http.conftest import VIDEO_ID, Made, publish
from tests.http.test_http_delete_purge import cached_master, get
from tests.http.test_http_real_clients import wait_for
from tests.http.test_http_tracks import media_digests
from tests.jobs.helpers import cli, events


@pytest.fixture
def root(data: DataDir, tracks_title: Made) -> Path:
    publish(data, tracks_title)
    return data.origin / "videos" / VIDEO_ID


@pytest.fixture
def purging(cdn: Services) -> Any:
    """A running server's edges, following track changes as `build_services` wires them."""
    assert cdn.cdn is not None and cdn.events is not None
    follower = EditPurge(cdn.cdn, cdn.events)
    follower.start()
    yield cdn
    follower.stop()


def audio(data: DataDir, *args: str) -> Any:
    return cli("audio", *args, "--data-dir", str(data.root))


def audio_names(root: Path) -> list[tuple[str, str]]:
    master = m3u8.load(str(root / "master.m3u8"))
    return [(m.name, m.default) for m in master.media if m.type == "AUDIO"]


def test_audio_list_rename_and_default_from_the_command_line(data: DataDir, root: Path) -> None:
    before = media_digests(root)
    listed = audio(data, "list", VIDEO_ID)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["audio        English  [default, 2 ch]  eng",
                                          "audio-2      Français  [2 ch]  fra"]
    renamed = audio(data, "rename", VIDEO_ID, "audio-2", "Version française", "--json")
    assert renamed.returncode == 0, renamed.stderr
    assert [t["name"] for t in json.loads(renamed.stdout)] == ["English", "Version française"]
    assert "cdn_ttl_s" in renamed.stderr
    made = audio(data, "default", VIDEO_ID, "audio-2")
    assert made.returncode == 0, made.stderr
    assert audio_names(root) == [("English", "NO"), ("Version française", "YES")]
    assert media_digests(root) == before
    changed = [e for e in events(data.root, "videos") if e["type"] == "audio_changed"]
    assert len(changed) == 2 and {e["video_id"] for e in changed} == {VIDEO_ID}


def test_audio_errors_name_the_track_and_change_nothing(data: DataDir, root: Path) -> None:
    before = (root / "master.m3u8").read_text()
    unknown = audio(data, "rename", VIDEO_ID, "audio-7", "Deutsch")
    empty = audio(data, "rename", VIDEO_ID, "audio-2", "  ")
    missing = audio(data, "default", "nope", "audio")
    assert [r.returncode for r in (unknown, empty, missing)] == [1, 1, 1]
    assert "no audio track 'audio-7'" in unknown.stderr and "audio, audio-2" in unknown.stderr
    assert "A track name cannot be empty." in empty.stderr
    assert "nope" in missing.stderr
    assert (root / "master.m3u8").read_text() == before


def test_a_cli_subtitle_removal_purges_the_running_servers_edges(
        purging: Services, data: DataDir, root: Path) -> None:
    master = cached_master(purging)
    removed = cli("subtitles", "remove", VIDEO_ID, "eng", "--data-dir", str(data.root))
    assert removed.returncode == 0, removed.stderr
    assert "note: the edges of a server running on this data dir" in removed.stderr
    wait_for(lambda: b"TYPE=SUBTITLES" not in get(master)[2], 20, "the edge to serve the new master")
    playlist = posixpath.join(posixpath.dirname(master), "cmaf/audio-2/playlist.m3u8")
    assert get(playlist)[0] == 200


def test_a_cli_audio_rename_purges_the_running_servers_edges(
        purging: Services, data: DataDir, root: Path) -> None:
    master = cached_master(purging)
    assert audio(data, "rename", VIDEO_ID, "audio", "English (original)").returncode == 0
    wait_for(lambda: "English (original)" in get(master)[2].decode(), 20, "the edge to serve the new master")


def test_a_change_made_while_the_server_was_down_is_purged_when_it_starts_again(
        cdn: Services, data: DataDir, root: Path) -> None:
    assert cdn.cdn is not None and cdn.events is not None and cdn.steering is not None
    first = EditPurge(cdn.cdn, cdn.events)
    first.start()  # a server ran once: the follower knows where it stopped
    first.stop()
    master = cached_master(cdn)
    assert audio(data, "rename", VIDEO_ID, "audio-2", "VF").returncode == 0
    assert get(master)[1] == "HIT" and b'NAME="VF"' not in get(master)[2]  # nobody purged it yet
    again = EditPurge(cdn.cdn, cdn.events)
    again.start()
    try:
        assert b'NAME="VF"' in get(master)[2]
    finally:
        again.stop()
