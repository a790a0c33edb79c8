"""5.1 kept as 5.1 in every language, through a real ingest: a source with an English and a French
5.1 stream publishes, per language, a stereo downmix and a 5.1 rendition ("English", "English 5.1",
"Français", "Français 5.1"); ffprobe reads 6 channels in each 5.1 rendition through the master, the
MPD states the channels of each set, and the title's verification passes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from tests.media.ingested import ingest_published
from tests.media.test_audio_51 import TONES


def two_surround_languages(folder: Path) -> Path:
    """6 s of video, an English (default) and a French 5.1 stream (FLAC, layout 5.1)."""
    clip = folder / "surround2.mkv"
    surround = ["-f", "lavfi", "-i", f"aevalsrc={TONES}:s=48000:d=6:c=5.1"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=160x90:rate=25:duration=6", *surround, *surround,
                    "-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-c:a", "flac", "-metadata:s:a:0", "language=eng",
                    "-metadata:s:a:1", "language=fra", "-disposition:a:0", "default", "-disposition:a:1", "0",
                    str(clip)], check=True)
    return clip


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("surround-languages")
    return ingest_published(two_surround_languages(folder), folder / "d")[0]


def test_each_language_has_its_stereo_downmix_and_its_51(root: Path) -> None:
    master = m3u8.load(str(root / "master.m3u8"))
    audio = [(m.uri, m.language, m.name, m.default, m.channels) for m in master.media if m.type == "AUDIO"]
    assert audio == [("cmaf/audio/playlist.m3u8", "eng", "English", "YES", "2"),
                     ("cmaf/audio-1-51/playlist.m3u8", "eng", "English 5.1", "NO", "6"),
                     ("cmaf/audio-2/playlist.m3u8", "fra", "Français", "NO", "2"),
                     ("cmaf/audio-2-51/playlist.m3u8", "fra", "Français 5.1", "NO", "6")]
    report = json.loads((root / "integrity.json").read_text())
    assert report["ok"], report["problems"]


def test_ffprobe_reads_six_channels_in_both_languages_through_the_master(root: Path) -> None:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-select_streams", "a",
                          "-show_entries", "stream=channels:stream_tags=language", str(root / "master.m3u8")],
                         check=True, capture_output=True, text=True)
    read: dict[str, Any] = json.loads(out.stdout)
    seen = {(s.get("tags", {}).get("language"), s["channels"]) for s in read["streams"]}
    assert {("eng", 2), ("eng", 6), ("fra", 2), ("fra", 6)} <= seen


def test_the_mpd_has_a_set_per_rendition_with_its_channels(root: Path) -> None:
    sets = [a for a in MPEGDASHParser.parse(str(root / "manifest.mpd")).periods[0].adaptation_sets
            if a.content_type == "audio"]
    assert [(a.lang, a.representations[0].id, a.roles[0].value,
             a.representations[0].audio_channel_configurations[0].value) for a in sets] == [
        ("eng", "audio", "main", "2"), ("eng", "audio-1-51", "alternate", "6"),
        ("fra", "audio-2", "alternate", "2"), ("fra", "audio-2-51", "alternate", "6")]
