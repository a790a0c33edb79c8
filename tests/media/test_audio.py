"""Whole-file audio: AAC-LC stereo 48 kHz, on the video's clock, exactly the title long."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.errors import MediaError
from server.media.audio import build_audio_args, encode_audio
from server.media.ffmpeg import FFmpegFailed, Tools, find_tools
from server.media.model import AudioInfo, MediaInfo, WorkLayout
from server.media.probe import probe

AAC_FRAME_S = 1024 / 48000


def audio_stream(path: Path) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                          "stream=codec_name,profile,channels,sample_rate,duration", "-of", "json",
                          str(path)],
                         check=True, capture_output=True, text=True).stdout
    stream: dict[str, Any] = json.loads(out)["streams"][0]
    return stream


def loudest_db(path: Path, start: float, seconds: float) -> float:
    """Peak level in dBFS of [start, start+seconds) (-inf for digital silence)."""
    run = subprocess.run(["ffmpeg", "-v", "info", "-ss", str(start), "-t", str(seconds), "-i", str(path),
                          "-af", "volumedetect", "-f", "null", "-"],
                         capture_output=True, text=True, check=True)
    match = re.search(r"max_volume: (-?[\d.]+|-inf) dB", run.stderr)
    assert match, run.stderr[-500:]
    return float(match.group(1))


def test_argv_downmixes_the_kept_track_to_stereo_aac_for_the_title_duration(tmp_path: Path) -> None:
    info = MediaInfo(Path("/in/film.mkv"), 10, 12.5, "matroska", None,
                     AudioInfo(3, "ac3", 6, 48000, "eng", True))
    args = build_audio_args(Tools("ffmpeg", "ffprobe", "5.1"), info, tmp_path / "a.m4a")
    assert args[args.index("-i") + 1] == "/in/film.mkv"
    assert args[args.index("-map") + 1] == "0:3"
    for flag, value in (("-ac", "2"), ("-ar", "48000"), ("-c:a", "aac"), ("-profile:a", "aac_low"),
                        ("-b:a", "128k"), ("-t", "12.500000"), ("-f", "mp4")):
        assert args[args.index(flag) + 1] == value
    assert "first_pts=0" in args[args.index("-af") + 1] and args[-1] == str(tmp_path / "a.m4a")
    assert args.index("-t") > args.index("-i"), "-t trims the output (after padding), not the input"


def test_five_one_becomes_stereo_48k_of_the_title_length(shared_media: Path, tmp_path: Path) -> None:
    info = probe(shared_media / "bbb_720p_aac_5.1.mp4")
    layout = WorkLayout(tmp_path)
    encode_audio(find_tools(), info, layout)
    stream = audio_stream(layout.audio_file)
    assert (stream["codec_name"], stream["profile"], stream["channels"], stream["sample_rate"]) == \
        ("aac", "LC", 2, "48000")
    assert float(stream["duration"]) == pytest.approx(info.duration, abs=AAC_FRAME_S)
    assert not list(tmp_path.glob("*.part"))


def test_short_audio_is_padded_and_a_late_start_is_kept_late(tmp_path: Path) -> None:
    """Video 0-3 s; the tone starts at 1 s and stops at 2 s. The m4a is 3 s with the tone at 1-2 s."""
    source = tmp_path / "late.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=3",
                    "-itsoffset", "1", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(source)], check=True)
    info = probe(source)
    assert info.duration == pytest.approx(3.0)
    layout = WorkLayout(tmp_path / "work")
    encode_audio(find_tools(), info, layout)
    assert float(audio_stream(layout.audio_file)["duration"]) == pytest.approx(3.0, abs=AAC_FRAME_S)
    assert loudest_db(layout.audio_file, 0.0, 0.9) < -60
    assert loudest_db(layout.audio_file, 1.1, 0.8) > -30   # lavfi sine peaks at -18 dBFS
    assert loudest_db(layout.audio_file, 2.1, 0.8) < -60


def test_an_audio_only_title_is_encoded(tmp_path: Path) -> None:
    source = tmp_path / "voice.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "sine=frequency=300:sample_rate=22050:duration=2", "-ac", "1", str(source)], check=True)
    info = probe(source)
    assert info.video is None
    encode_audio(find_tools(), info, WorkLayout(tmp_path / "work"))
    stream = audio_stream(tmp_path / "work" / "audio.m4a")
    assert (stream["channels"], stream["sample_rate"]) == (2, "48000")
    assert float(stream["duration"]) == pytest.approx(2.0, abs=AAC_FRAME_S)


def test_a_failed_audio_encode_leaves_no_file(make_clip: Callable[..., Path], tmp_path: Path) -> None:
    source = make_clip(seconds=1)
    info = probe(source)
    source.unlink()
    layout = WorkLayout(tmp_path / "work")
    with pytest.raises(FFmpegFailed, match=r"encode audio of clip\.mp4 failed"):
        encode_audio(find_tools(), info, layout)
    assert not layout.audio_file.exists() and not list(layout.root.glob("*.part"))


def test_a_title_without_audio_has_nothing_to_encode(make_clip: Callable[..., Path], tmp_path: Path) -> None:
    info = probe(make_clip(seconds=1, audio=False))
    with pytest.raises(MediaError, match=r"clip\.mp4 has no audio track"):
        encode_audio(find_tools(), info, WorkLayout(tmp_path))
