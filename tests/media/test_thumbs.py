"""Poster, scrub sprite and WebVTT track from a real clip: sizes agree with the cues, poster has a picture."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from server.errors import JobError
from server.media.ffmpeg import find_tools
from server.media.thumbs import make_audio_poster, make_thumbnails, plan_sprite, sprite_vtt
from tests.conftest import ClipMaker

STAMP = r"(\d\d):(\d\d):(\d\d)\.(\d{3})"
CUE = re.compile(STAMP + " --> " + STAMP + r"\nsprite\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)")


def image_size(path: Path) -> tuple[int, int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_entries", "stream=width,height",
                          str(path)], check=True, capture_output=True, text=True)
    stream = json.loads(out.stdout)["streams"][0]
    return stream["width"], stream["height"]


def mean_luma(path: Path) -> float:
    args = ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"]
    raw = subprocess.run(args, check=True, capture_output=True).stdout
    return sum(raw) / len(raw)


def cues(vtt: str) -> list[tuple[float, float, int, int, int, int]]:
    out = []
    for m in CUE.finditer(vtt):
        g = [int(x) for x in m.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        out.append((start, end, *g[8:]))
    return out


def test_sprite_plan_covers_the_title_with_one_tile_per_interval() -> None:
    plan = plan_sprite(25.0, 1920, 1080, columns=10, interval=2.0)
    assert (plan.count, plan.columns, plan.rows, plan.tile_height) == (12, 10, 2, 90)
    assert plan.cue(11) == (22.0, 25.0, 160, 90)  # the last cue runs to the end
    assert plan_sprite(7200.0, 1280, 720).interval == 72.0  # long titles: still one sheet of ≤100 tiles


def test_vtt_cues_tile_the_timeline_without_gaps() -> None:
    parsed = cues(sprite_vtt(plan_sprite(5.5, 320, 180, columns=3, interval=1.0)))
    assert [c[:2] for c in parsed] == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5.5)]
    assert [c[2:4] for c in parsed] == [(0, 0), (160, 0), (320, 0), (0, 90), (160, 90)]


def test_thumbnails_of_a_real_clip_match_their_cues(make_clip: ClipMaker, tmp_path: Path) -> None:
    clip = make_clip(seconds=3.0, size="320x180", audio=False)
    out = tmp_path / "title"
    paths = make_thumbnails(find_tools(), clip, 3.0, out, columns=2, interval=1.0, tile_width=96)
    assert paths == ("thumbs/poster.jpg", "thumbs/sprite.jpg", "thumbs/thumbs.vtt")
    parsed = cues((out / paths[2]).read_text())
    assert len(parsed) == 3 and parsed[-1][1] == 3.0
    width, height = image_size(out / paths[1])
    assert (width, height) == (2 * 96, 2 * 54)  # 2 columns x 2 rows of 96x54 tiles
    assert all(x + w <= width and y + h <= height and (w, h) == (96, 54) for *_, x, y, w, h in parsed)
    assert image_size(out / paths[0]) == (320, 180)
    assert mean_luma(out / paths[0]) > 40  # a picture, not a black frame


def test_the_sprite_can_come_from_a_smaller_rung(make_clip: ClipMaker, tmp_path: Path) -> None:
    big = make_clip("big.mp4", seconds=2.0, size="320x180", audio=False)
    small = make_clip("small.mp4", seconds=2.0, size="192x108", audio=False)
    out = tmp_path / "title"
    make_thumbnails(find_tools(), big, 2.0, out, interval=1.0, tile_width=160, sprite_video=small)
    assert image_size(out / "thumbs" / "poster.jpg") == (320, 180)
    assert image_size(out / "thumbs" / "sprite.jpg") == (2 * 160, 90)


def test_the_poster_skips_a_black_opening(tmp_path: Path) -> None:
    """1.2 black seconds before the picture: the poster comes from the picture, not the fade-in."""
    clip = tmp_path / "late.mp4"
    black_opening = "drawbox=c=black:t=fill:enable='lt(t,1.2)'"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=160x90:rate=25:duration=4", "-vf", black_opening, "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip)], check=True)
    make_thumbnails(find_tools(), clip, 4.0, tmp_path / "out")
    assert mean_luma(tmp_path / "out" / "thumbs" / "poster.jpg") > 40


def test_an_audio_only_title_gets_a_waveform_poster(tmp_path: Path) -> None:
    audio = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=220:duration=2",
                    "-c:a", "aac", str(audio)], check=True)
    assert make_audio_poster(find_tools(), audio, tmp_path) == "thumbs/poster.jpg"
    assert image_size(tmp_path / "thumbs" / "poster.jpg") == (640, 360)


def test_a_file_without_video_is_refused_with_its_name(tmp_path: Path) -> None:
    not_video = tmp_path / "notes.txt"
    not_video.write_text("not a video")
    with pytest.raises(JobError, match=r"notes\.txt"):
        make_thumbnails(find_tools(), not_video, 3.0, tmp_path / "out")
