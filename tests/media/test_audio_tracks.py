"""Every audio stream its own rendition, through a real ingest: a source with English (default),
French and an English commentary; the master names each (language, default, commentary never
auto-selected), ffprobe reads every one through it, and the MPD has a set per rendition with its
language and Role."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from tests.media.ingested import ingest_published


def source(folder: Path) -> Path:
    """6 s of video with three tones: eng (default), fre, and an eng commentary (disposition comment)."""
    clip = folder / "languages.mkv"
    tones = [a for f in (440, 660, 880) for a in ("-f", "lavfi", "-i", f"sine=f={f}:sample_rate=48000:d=6")]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=160x90:rate=25:duration=6", *tones, "-map", "0", "-map", "1", "-map", "2",
                    "-map", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "flac", "-metadata:s:a:0", "language=eng",
                    "-metadata:s:a:1", "language=fre", "-metadata:s:a:2", "language=eng",
                    "-disposition:a:0", "default", "-disposition:a:1", "0", "-disposition:a:2", "comment",
                    str(clip)], check=True)
    return clip


@pytest.fixture(scope="module")
def title(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("audio")
    return ingest_published(source(folder), folder / "d")


def test_the_master_names_every_audio_rendition(title: tuple[Path, dict[str, Any]]) -> None:
    root, result = title
    audio = [m for m in m3u8.load(str(root / "master.m3u8")).media if m.type == "AUDIO"]
    assert [(m.uri, m.language, m.name, m.default, m.autoselect) for m in audio] == [
        ("cmaf/audio/playlist.m3u8", "eng", "English", "YES", "YES"),
        ("cmaf/audio-2/playlist.m3u8", "fre", "Français", "NO", "YES"),
        ("cmaf/audio-3/playlist.m3u8", "eng", "English (commentary)", "NO", "NO")]
    assert all(p.stream_info.audio == "audio" for p in m3u8.load(str(root / "master.m3u8")).playlists)
    assert any("2 audio tracks kept as alternate audio" in note for note in result["notes"])
    report = json.loads((root / "integrity.json").read_text())
    assert report["ok"], report["problems"]
    assert sorted(report["checks"]["alternate_audio"]) == ["audio-2", "audio-3"]


def test_ffprobe_reads_every_audio_rendition_through_the_master(title: tuple[Path, dict[str, Any]]) -> None:
    root, _ = title
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-count_frames", "-select_streams", "a",
                          "-show_entries", "stream=nb_read_frames:stream_tags=language",
                          str(root / "master.m3u8")], check=True, capture_output=True, text=True)
    streams = json.loads(out.stdout)["streams"]
    assert sorted(s["tags"]["language"] for s in streams) == ["eng", "eng", "fre"]
    assert all(int(s["nb_read_frames"]) >= 6 * 48000 // 1024 for s in streams)  # 6 s of AAC each


def test_the_mpd_has_an_audio_set_per_rendition_with_language_and_role(
        title: tuple[Path, dict[str, Any]]) -> None:
    root, _ = title
    sets = [a for a in MPEGDASHParser.parse(str(root / "manifest.mpd")).periods[0].adaptation_sets
            if a.content_type == "audio"]
    assert [(a.lang, a.roles[0].value, a.representations[0].id) for a in sets] == [
        ("eng", "main", "audio"), ("fre", "alternate", "audio-2"), ("eng", "commentary", "audio-3")]
