"""AV1 picks its own segment length: at 29.97, 23.976 and 59.94 fps the default 4 s segments hold a
fractional number of frames, which libsvtav1's fixed keyframe interval cannot follow, so an ingest
with `--codecs h264,av1` and no segment length of the user's rounds it to whole frames (4.004 s) for
the whole title and says so; a length the user chose is still refused with the one that works."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from server.errors import MediaError
from server.media.codecs import grid_segment
from tests.conftest import generate_clip
from tests.jobs.helpers import cli, json_lines

QUIET = {"MINIFLIX_X264_PRESET": "ultrafast", "MINIFLIX_QUALITY_MEASURE": "off"}
RATES = {"29.97": ("30000/1001", "640x360"), "23.976": ("24000/1001", "320x180"),
         "59.94": ("60000/1001", "320x180")}


@pytest.mark.parametrize(("rate", "frames"), [(Fraction(30000, 1001), 120), (Fraction(24000, 1001), 96),
                                              (Fraction(60000, 1001), 240)])
def test_the_default_length_becomes_the_nearest_whole_number_of_frames(rate: Fraction, frames: int) -> None:
    seconds, note = grid_segment(("h264", "av1"), 4.0, rate, chosen=False)
    assert Fraction(seconds).limit_denominator(1_000_000) * rate == frames and seconds == 4.004
    assert note.startswith("segments 4.004 s") and "AV1 needs whole frames" in note


def test_a_grid_that_already_holds_whole_frames_or_has_no_av1_is_left_alone() -> None:
    assert grid_segment(("h264", "av1"), 4.0, Fraction(25), chosen=False) == (4.0, "")
    assert grid_segment(("h264", "hevc"), 4.0, Fraction(30000, 1001), chosen=False) == (4.0, "")


def test_a_length_the_user_chose_is_refused_naming_the_one_that_works() -> None:
    with pytest.raises(MediaError, match="whole number of frames") as refused:
        grid_segment(("h264", "av1"), 4.0, Fraction(30000, 1001), chosen=True)
    assert "--segment-seconds 4.004 (120 frames)" in str(refused.value)


@pytest.fixture(scope="module", params=list(RATES))
def published(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict[str, Any], int]:
    """A real `ingest --codecs h264,av1` of an 8.5 s clip at `rate` fps, in several chunks (CHUNKY),
    with no segment length given: (rate, the title's origin folder, the CLI's result, source frames)."""
    rate = request.param
    fps, size = RATES[rate]
    out = tmp_path_factory.mktemp("av1grid")
    clip = generate_clip(out / "clip.mp4", seconds=8.5, size=size, extra=["-r", fps])
    run = cli("ingest", str(clip), "--data-dir", str(out / "d"), "--json", "--codecs", "h264,av1", env=QUIET)
    [result] = json_lines(run.stdout)
    assert result["status"] == "published", result["error"]
    return rate, out / "d" / "origin" / result["master"].rsplit("/", 1)[0], result, _frames(clip)


def _frames(media: Path, stream: str = "v:0") -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-count_packets",
                          "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(media)],
                         capture_output=True, text=True, check=True, timeout=60)
    return int(out.stdout.strip())


def _variants(title: Path) -> list[str]:
    lines = (title / "master.m3u8").read_text().splitlines()
    return [uri for inf, uri in itertools.pairwise(lines) if inf.startswith("#EXT-X-STREAM-INF:")]


def _segment_starts(playlist: Path) -> list[float]:
    durations = [float(d) for d in re.findall(r"^#EXTINF:([\d.]+),", playlist.read_text(), re.M)]
    return [round(sum(durations[:k]), 3) for k in range(len(durations))]


def _keyframe_times(playlist: Path) -> list[float]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=pts_time,flags", "-of", "csv=p=0", str(playlist)],
                         capture_output=True, text=True, check=True, timeout=60)
    rows = [line.split(",") for line in out.stdout.splitlines() if line.strip()]
    return [round(float(time), 3) for time, flags in rows if "K" in flags]


def test_the_title_publishes_on_a_whole_frame_grid_and_says_why(
        published: tuple[str, Path, dict[str, Any], int]) -> None:
    rate, title, result, _ = published
    assert {r["name"].endswith("-av1") for r in result["renditions"]} == {True, False}
    report = json.loads((title / "integrity.json").read_text())
    assert report["ok"], report["problems"]
    assert f"segments 4.004 s instead of 4 s: AV1 needs whole frames at {rate} fps" in result["notes"]


def test_every_h264_and_av1_segment_starts_on_a_keyframe_at_the_same_times(
        published: tuple[str, Path, dict[str, Any], int]) -> None:
    _, title, _, _ = published
    playlists = [title / uri for uri in _variants(title)]
    starts = {p.parent.name: _segment_starts(p) for p in playlists}
    keyframes = {p.parent.name: _keyframe_times(p) for p in playlists}
    assert all(s == [0.0, 4.004, 8.008] for s in starts.values()), starts
    assert keyframes == starts


def test_ffmpeg_decodes_every_frame_of_every_rung(published: tuple[str, Path, dict[str, Any], int]) -> None:
    _, title, _, source_frames = published
    for index, uri in enumerate(_variants(title)):
        out = subprocess.run(["ffmpeg", "-v", "error", "-nostats", "-progress", "pipe:1", "-i",
                              str(title / "master.m3u8"), "-map", f"0:v:{index}", "-f", "null", "-"],
                             capture_output=True, text=True, timeout=120, check=True)
        assert int(re.findall(r"^frame=(\d+)$", out.stdout, re.M)[-1]) == source_frames, (uri, out.stderr)
        assert out.stderr == "", uri


@pytest.mark.parametrize("chosen", [["--segment-seconds", "4"], []])
def test_a_segment_length_the_user_set_is_still_refused_with_the_hint(
        tmp_path: Path, make_clip: Any, chosen: list[str]) -> None:
    clip = make_clip("ntsc.mp4", seconds=2, extra=["-r", "30000/1001"])
    env = QUIET if chosen else {**QUIET, "MINIFLIX_SEGMENT_SECONDS": "4"}
    run = cli("ingest", str(clip), "--data-dir", str(tmp_path / "d"), "--json", "--codecs", "h264,av1",
              *chosen, env=env)
    [result] = json_lines(run.stdout)
    assert run.returncode == 1 and result["status"] == "failed"
    assert "whole number of frames" in result["error"] and "--segment-seconds 4.004" in result["error"]
