"""Poster, scrub sprite sheet and its WebVTT track, made from the title's top rung.

Players show a sprite tile while the user drags the seek bar; the VTT cue for a time range points
at the tile's rectangle with a media fragment (`sprite.jpg#xywh=x,y,w,h`).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import ffmpeg as ffmpeg_python

from server.errors import JobError
from server.media.ffmpeg import Tools, probe_json, run

THUMBS_DIR = "thumbs"
POSTER, SPRITE, VTT = "poster.jpg", "sprite.jpg", "thumbs.vtt"
POSTER_CANDIDATES = 50       # frames the thumbnail filter compares to pick a representative one
MAX_TILES = 100              # one sprite sheet; the interval grows with the title instead
AUDIO_POSTER_SIZE = "640x360"
QUIET = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
# Poster and sprite run beside the track cut at the end of an ingest, three processes on the cores:
# a single-threaded decode spends less CPU (the sprite 0.45 -> 0.33 CPU-s for a minute of 240p) and,
# sharing the cores anyway, takes no longer.
ONE_THREAD = ["-threads", "1"]


@dataclass(frozen=True)
class SpritePlan:
    """Where each scrub tile comes from and where it sits in the sheet."""

    interval: float
    count: int
    columns: int
    tile_width: int
    tile_height: int
    duration: float

    @property
    def rows(self) -> int:
        return math.ceil(self.count / self.columns)

    def cue(self, index: int) -> tuple[float, float, int, int]:
        """(start, end, x, y) of tile `index`; the last cue runs to the end of the title."""
        start = index * self.interval
        end = self.duration if index == self.count - 1 else start + self.interval
        column, row = index % self.columns, index // self.columns
        return start, end, column * self.tile_width, row * self.tile_height


def plan_sprite(duration: float, width: int, height: int, *, columns: int = 10, interval: float | None = None,
                tile_width: int = 160) -> SpritePlan:
    """One tile per `interval` (default: 1 s, longer for titles over MAX_TILES s), taken mid-interval."""
    if duration <= 0 or width <= 0 or height <= 0:
        raise JobError(f"cannot plan thumbnails for a {width}x{height} video of {duration} s.")
    step = interval if interval and interval > 0 else float(max(1, math.ceil(duration / MAX_TILES)))
    step = min(step, duration)
    count = max(1, math.ceil(duration / step - 0.5 - 1e-9))
    tile_height = max(2, 2 * round(tile_width * height / width / 2))
    return SpritePlan(step, count, min(columns, count), tile_width, tile_height, duration)


def build_sprite_args(tools: Tools, video: Path, plan: SpritePlan, out: Path) -> list[str]:
    """Pick the first frame at or after the middle of each interval, scale, tile into one JPEG."""
    select = f"select=gte(t\\,{plan.interval:g}*(selected_n+0.5))"
    chain = f"{select},scale={plan.tile_width}:{plan.tile_height},tile={plan.columns}x{plan.rows}"
    return [tools.ffmpeg, *QUIET, *ONE_THREAD, "-i", str(video), "-vf", chain, "-frames:v", "1",
            "-update", "1", "-q:v", "4", str(out)]


def build_poster_args(tools: Tools, video: Path, at: float, out: Path) -> list[str]:
    """From `at` seconds into `video` (a third into the title: past intros and fades), the most
    typical of the next frames."""
    return [tools.ffmpeg, *QUIET, *ONE_THREAD, "-ss", f"{at:.3f}", "-i", str(video),
            "-vf", f"thumbnail={POSTER_CANDIDATES}", "-frames:v", "1", "-update", "1", "-q:v", "3", str(out)]


def build_audio_poster_args(tools: Tools, audio: Path, out: Path) -> list[str]:
    """A waveform picture on a dark background for a title that has no picture."""
    graph = (f"color=c=0x1b1f3a:s={AUDIO_POSTER_SIZE}[bg];"
             f"[0:a]showwavespic=s={AUDIO_POSTER_SIZE}:colors=0x4fc3f7[w];[bg][w]overlay=format=auto")
    return [tools.ffmpeg, *QUIET, "-i", str(audio), "-filter_complex", graph, "-frames:v", "1",
            "-update", "1", str(out)]


def sprite_vtt(plan: SpritePlan, sprite_name: str = SPRITE) -> str:
    """WebVTT thumbnail track: one cue per tile, each pointing at its rectangle in the sheet."""
    lines = ["WEBVTT", ""]
    for i in range(plan.count):
        start, end, x, y = plan.cue(i)
        lines += [f"{_stamp(start)} --> {_stamp(end)}",
                  f"{sprite_name}#xywh={x},{y},{plan.tile_width},{plan.tile_height}", ""]
    return "\n".join(lines)


def make_thumbnails(tools: Tools, video: Path, duration: float, out_dir: Path, *, columns: int = 10,
                    interval: float | None = None, tile_width: int = 160,
                    sprite_video: Path | None = None,
                    sprite_size: tuple[int, int] | None = None,
                    poster_at: float | None = None) -> tuple[str, str, str]:
    """Write thumbs/poster.jpg, thumbs/sprite.jpg and thumbs/thumbs.vtt; return them relative to out_dir.

    The poster comes from `video`, from `poster_at` seconds in (default: a third of `duration`;
    `video` may be just the part of the title that holds that moment). The sprite, which decodes
    the whole title, comes from `sprite_video` when given (a small rung: 160 px tiles from 1080p
    cost 30x the decoding for nothing); either may be an ffconcat list of chunks.
    `sprite_size`, when the caller knows it, saves probing the sprite's source."""
    sprite_source = sprite_video or video
    width, height = sprite_size or _video_size(tools, sprite_source)
    plan = plan_sprite(duration, width, height, columns=columns, interval=interval, tile_width=tile_width)
    thumbs, at = out_dir / THUMBS_DIR, duration / 3 if poster_at is None else poster_at
    thumbs.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(2, thread_name_prefix="thumbs") as pool:  # two small decodes, side by side
        poster = pool.submit(run, build_poster_args(tools, video, at, thumbs / POSTER), "making the poster")
        sprite = pool.submit(run, build_sprite_args(tools, sprite_source, plan, thumbs / SPRITE),
                             "making the scrub sprite")
    poster.result(), sprite.result()
    (thumbs / VTT).write_text(sprite_vtt(plan), encoding="utf-8")
    return f"{THUMBS_DIR}/{POSTER}", f"{THUMBS_DIR}/{SPRITE}", f"{THUMBS_DIR}/{VTT}"


def make_audio_poster(tools: Tools, audio: Path, out_dir: Path) -> str:
    """Write thumbs/poster.jpg (a waveform) for an audio-only title; return it relative to out_dir."""
    thumbs = out_dir / THUMBS_DIR
    thumbs.mkdir(parents=True, exist_ok=True)
    run(build_audio_poster_args(tools, audio, thumbs / POSTER), "drawing the audio poster")
    return f"{THUMBS_DIR}/{POSTER}"


def _video_size(tools: Tools, video: Path) -> tuple[int, int]:
    try:
        info = probe_json(str(video), tools.ffprobe, select_streams="v:0")
        stream = info["streams"][0]
        return int(stream["width"]), int(stream["height"])
    except (ffmpeg_python.Error, LookupError, ValueError) as exc:
        raise JobError(f"cannot read the picture size of {video} for thumbnails.",
                       hint="re-run packaging for this title") from exc


def _stamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
