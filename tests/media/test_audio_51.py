"""5.1 kept as 5.1, through a real ingest: a source whose only audio stream is 5.1 (six tones, one per
channel) publishes a stereo downmix (the default) and a 5.1 rendition of the same stream; the master
announces CHANNELS="2" and CHANNELS="6", ffprobe reads 2 and 6 channels through it, the MPD's
AudioChannelConfiguration says the same, and the title's verification passes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from server.media.audio import alternate_tracks, build_audio_args
from server.media.ffmpeg import find_tools
from server.media.probe import probe
from tests.media.ingested import ingest_published

TONES = "|".join(f"0.3*sin({f}*2*PI*t)" for f in (440, 550, 660, 110, 770, 880))


def surround_source(folder: Path) -> Path:
    """6 s of video with one English 5.1 audio stream (FLAC, layout 5.1)."""
    clip = folder / "surround.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=160x90:rate=25:duration=6", "-f", "lavfi", "-i",
                    f"aevalsrc={TONES}:s=48000:d=6:c=5.1", "-map", "0", "-map", "1",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "flac",
                    "-metadata:s:a:0", "language=eng", str(clip)], check=True)
    return clip


@pytest.fixture(scope="module")
def title(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("surround")
    return ingest_published(surround_source(folder), folder / "d")


def test_the_master_offers_the_stereo_downmix_by_default_and_the_51_beside_it(
        title: tuple[Path, dict[str, Any]]) -> None:
    root, _ = title
    master = m3u8.load(str(root / "master.m3u8"))
    audio = [m for m in master.media if m.type == "AUDIO"]
    assert [(m.uri, m.language, m.name, m.default, m.channels) for m in audio] == [
        ("cmaf/audio/playlist.m3u8", "eng", "English", "YES", "2"),
        ("cmaf/audio-1-51/playlist.m3u8", "eng", "English 5.1", "NO", "6")]
    assert all(p.stream_info.audio == "audio" for p in master.playlists)
    report = json.loads((root / "integrity.json").read_text())
    assert report["ok"], report["problems"]


def test_ffprobe_reads_six_channels_in_the_51_rendition_and_two_in_the_downmix(
        title: tuple[Path, dict[str, Any]]) -> None:
    root, _ = title
    channels = {}
    for name in ("audio", "audio-1-51"):
        out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-count_frames",
                              "-select_streams", "a", "-show_entries",
                              "stream=channels,channel_layout,codec_name,nb_read_frames",
                              str(root / "cmaf" / name / "playlist.m3u8")],
                             check=True, capture_output=True, text=True)
        [stream] = json.loads(out.stdout)["streams"]
        assert stream["codec_name"] == "aac"
        assert int(stream["nb_read_frames"]) >= 6 * 48000 // 1024  # all 6 s
        channels[name] = (stream["channels"], stream["channel_layout"])
    assert channels == {"audio": (2, "stereo"), "audio-1-51": (6, "5.1")}


def test_ffprobe_reads_both_renditions_through_the_master(title: tuple[Path, dict[str, Any]]) -> None:
    root, _ = title
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-select_streams", "a",
                          "-show_entries", "stream=channels", str(root / "master.m3u8")],
                         check=True, capture_output=True, text=True)
    assert sorted(s["channels"] for s in json.loads(out.stdout)["streams"]) == [2, 6]


def test_the_mpd_states_each_renditions_channels(title: tuple[Path, dict[str, Any]]) -> None:
    root, _ = title
    sets = [a for a in MPEGDASHParser.parse(str(root / "manifest.mpd")).periods[0].adaptation_sets
            if a.content_type == "audio"]
    configs = [(a.representations[0].id, a.roles[0].value,
                a.representations[0].audio_channel_configurations[0].value) for a in sets]
    assert configs == [("audio", "main", "2"), ("audio-1-51", "alternate", "6")]


def test_a_stereo_source_gets_no_51_rendition(tmp_path: Path) -> None:
    clip = tmp_path / "stereo.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=160x90:rate=25:duration=1",
                    "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=1", "-ac", "2", "-c:v", "libx264",
                    "-preset", "ultrafast", "-c:a", "flac", str(clip)], check=True)
    tools = find_tools()
    info = probe(clip, tools)
    assert alternate_tracks(info) == ()
    args = build_audio_args(tools, info, tmp_path / "a.m4a")
    assert "6" not in args and args[args.index("-ac") + 1] == "2"
