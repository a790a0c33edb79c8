"""`main.py subtitles add|list|remove` on a really ingested title: the text track appears in both
manifests and in subtitle search, the video and audio files stay byte for byte as packaged, and a
file that holds no subtitles is refused naming it, leaving the title as it was."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import m3u8
import pytest

from tests.conftest import generate_clip
from tests.jobs.helpers import cli, json_lines

FRENCH = "1\r\n00:00:02,000 --> 00:00:05,000\r\n[Musique] Le pont à l'aube\r\n"


@pytest.fixture
def title(tmp_path: Path) -> tuple[Path, str, Path]:
    """(data dir, video id, the title's origin folder) of an 8 s title with no subtitles."""
    clip = generate_clip(tmp_path / "plain.mp4", seconds=8, size="160x90")
    data = tmp_path / "d"
    run = cli("ingest", str(clip), "--data-dir", str(data), "--json", env={"MINIFLIX_QUALITY_MEASURE": "0"})
    [result] = json_lines(run.stdout)
    assert result["status"] == "published", result["error"]
    return data, result["video_id"], data / "origin" / "videos" / result["video_id"]


def media_digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted((root / "cmaf").rglob("*")) if p.is_file()}


def subtitles(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("subtitles", *args, "--data-dir", str(data))


def said(data: Path, query: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(cli("search", query, "--in", "subtitles", "--json",
                                           "--data-dir", str(data)).stdout)
    return found


def test_a_track_added_later_plays_and_is_searchable_then_removed_without_touching_the_media(
        title: tuple[Path, str, Path], tmp_path: Path) -> None:
    data, video_id, root = title
    before = media_digests(root)
    srt = tmp_path / "extra.srt"
    srt.write_bytes(FRENCH.encode("cp1252"))
    added = subtitles(data, "add", video_id, str(srt), "--lang", "fr", "--sdh", "--json")
    assert added.returncode == 0, added.stderr
    tracks = [(t["id"], t["name"], t["sdh"]) for t in json.loads(added.stdout)]
    assert tracks == [("fr-sdh", "Français (SDH)", True)]
    master = m3u8.load(str(root / "master.m3u8"))
    [media] = [m for m in master.media if m.type == "SUBTITLES"]
    assert (media.language, media.uri) == ("fr", "subs/fr-sdh/playlist.m3u8")
    assert all(p.stream_info.subtitles == "subs" for p in master.playlists)
    assert "<BaseURL>subs/fr-sdh.vtt</BaseURL>" in (root / "manifest.mpd").read_text(encoding="utf-8")
    probe = subprocess.run(["ffprobe", "-v", "error", "-strict", "experimental", "-select_streams", "s",
                            "-show_entries", "packet=pts_time", "-of", "csv=p=0", str(root / "master.m3u8")],
                           capture_output=True, text=True, check=True)
    assert [float(t) for t in probe.stdout.split()] == [2.0]
    assert media_digests(root) == before
    found = said(data, "pont aube")
    assert [(h["video_id"], h["moments"][0]["at"]) for h in found["hits"]] == [(video_id, "0:02")]

    removed = subtitles(data, "remove", video_id, "fr-sdh")
    assert removed.returncode == 0 and removed.stdout.strip() == "no subtitle tracks", removed.stderr
    assert not [m for m in m3u8.load(str(root / "master.m3u8")).media if m.type == "SUBTITLES"]
    assert not (root / "subs").exists() and media_digests(root) == before
    assert said(data, "pont aube")["hits"] == []


def test_a_file_without_subtitles_is_refused_naming_it_and_the_title_stays_as_it_was(
        title: tuple[Path, str, Path], tmp_path: Path) -> None:
    data, video_id, root = title
    master = (root / "master.m3u8").read_text(encoding="utf-8")
    junk = tmp_path / "notes.en.srt"
    junk.write_text("these are my notes, not subtitles\n", encoding="utf-8")
    refused = subtitles(data, "add", video_id, str(junk))
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: notes.en.srt gives no subtitles")
    assert (root / "master.m3u8").read_text(encoding="utf-8") == master
    unknown = subtitles(data, "remove", video_id, "de")
    assert unknown.returncode == 1 and "no subtitle track 'de'" in unknown.stderr
