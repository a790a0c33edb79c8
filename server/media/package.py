"""Assemble each rung from its chunks and package the title once as CMAF, for HLS and DASH alike.

Chunks are joined by stream copy (concat demuxer), cut into fMP4 segments on the encoder's
keyframe grid by ffmpeg's HLS muxer, then the playlists and the MPD are written from the real
segment files (see playlists.py) so that BANDWIDTH, CODECS and durations state what is there.
Packaging is the serial tail of an ingest, so everything independent runs at once: every rung is
joined side by side, then every track is cut while the poster and the scrub sprite are made. The
joins and cuts are stream copies (bound by the disk, not the CPU), so they do not wait for a core.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import TypeVar

from server.errors import Cancelled, InvalidRequest, JobError
from server.media.cmaf import INIT_NAME, PLAYLIST_NAME, Track, scan_track
from server.media.ffmpeg import Tools, run
from server.media.model import AudioInfo, Chunk, PackagedTitle, Rendition, WorkLayout
from server.media.playlists import dash_manifest, master_playlist, media_playlist, plan_variants
from server.media.thumbs import THUMBS_DIR, make_audio_poster, make_thumbnails

log = logging.getLogger(__name__)

AUDIO_TRACK = "audio"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
SPRITE_TILE_WIDTH = 160
T = TypeVar("T")
# -xerror: without it the concat demuxer skips a chunk it cannot open and ffmpeg still exits 0
QUIET = ["-nostdin", "-hide_banner", "-loglevel", "error", "-xerror", "-y"]


def build_concat_list(files: Sequence[Path]) -> str:
    """The concat demuxer's script: one `file '…'` line per chunk, quotes escaped its way."""
    return "".join("file '{}'\n".format(str(f.resolve()).replace("'", "'\\''")) for f in files)


def build_concat_args(tools: Tools, list_file: Path, out: Path) -> list[str]:
    """Join a rung's chunk files by stream copy: timestamps continue from one chunk to the next."""
    return [tools.ffmpeg, *QUIET, "-f", "concat", "-safe", "0", "-i", str(list_file), "-map", "0:v:0",
            "-c", "copy", str(out)]


def cut_interval(segment_seconds: float, fps: Fraction | None) -> float:
    """The `-hls_time` that makes ffmpeg cut at every grid keyframe.

    ffmpeg cuts at the first keyframe whose time is >= k·hls_time; the encoder's keyframe for
    boundary k sits on the nearest frame to k·S, up to half a frame EARLY when S·fps is not whole
    (0.98 s at 25 fps: frame 24 = 0.96 s). Half a frame less catches it; no other keyframes exist.
    """
    return segment_seconds - float(Fraction(1, 2) / fps) if fps else segment_seconds


def build_segment_args(tools: Tools, source: Path, track_dir: Path, hls_time: float,
                       stream: str = "v") -> list[str]:
    """Cut one track into CMAF: init.mp4 + seg_00001.m4s…, a new segment at the first keyframe at
    or after each multiple of `hls_time`. Negative timestamps are kept so the AAC priming (or a
    B-frame delay) becomes an edit list instead of shifting the track."""
    pattern = str(track_dir).replace("%", "%%") + "/seg_%05d.m4s"
    return [tools.ffmpeg, *QUIET, "-i", str(source), "-map", f"0:{stream}:0", "-c", "copy",
            "-avoid_negative_ts", "disabled", "-f", "hls", "-hls_segment_type", "fmp4",
            "-hls_time", f"{hls_time:.6f}", "-hls_playlist_type", "vod",
            "-hls_flags", "independent_segments", "-hls_fmp4_init_filename", INIT_NAME,
            "-hls_segment_filename", pattern, "-start_number", "1", str(track_dir / PLAYLIST_NAME)]


def package_title(tools: Tools, layout: WorkLayout, renditions: Sequence[Rendition], chunks: Sequence[Chunk],
                  fps: Fraction | None, segment_seconds: float, audio: AudioInfo | None, out_dir: Path, *,
                  stop: threading.Event | None = None) -> PackagedTitle:
    """Package a fully encoded title into `out_dir` (empty staging dir): cmaf/<track>/…, master.m3u8,
    manifest.mpd and thumbs/. Raises JobError naming the missing or broken input, Cancelled on stop;
    either way nothing of the attempt is left in `out_dir`. Leftovers of an attempt that was killed
    are cleared first, so packaging again after a crash just works."""
    _check_inputs(layout, renditions, chunks, fps, audio, segment_seconds)
    _discard(out_dir)
    try:
        return _package(tools, layout, renditions, chunks, fps, segment_seconds, audio, out_dir, stop)
    except BaseException:
        _discard(out_dir)
        raise


def _package(tools: Tools, layout: WorkLayout, renditions: Sequence[Rendition], chunks: Sequence[Chunk],
             fps: Fraction | None, segment_seconds: float, audio: AudioInfo | None, out_dir: Path,
             stop: threading.Event | None) -> PackagedTitle:
    assembled = layout.root / "assembled"
    assembled.mkdir(parents=True, exist_ok=True)
    joined = dict(zip(renditions, _side_by_side(
        [partial(_assemble, tools, layout, r, chunks, assembled, stop) for r in renditions]), strict=True))
    interval, cmaf = cut_interval(segment_seconds, fps), out_dir / "cmaf"
    cuts = [partial(_segment, tools, path, cmaf / r.name, interval, "v", stop) for r, path in joined.items()]
    if audio is not None:
        cuts.append(partial(_segment, tools, layout.audio_file, cmaf / AUDIO_TRACK, segment_seconds, "a",
                            stop))
    duration = float(sum(c.frames for c in chunks) / fps) if fps else 0.0
    with ThreadPoolExecutor(1, thread_name_prefix="thumbs") as pool:
        thumbs = pool.submit(_thumbnails, tools, out_dir, layout, joined, duration, stop)
        tracks = _side_by_side(cuts)
    videos, audio_track = tracks[:len(renditions)], (tracks[-1] if audio is not None else None)
    _write_manifests(out_dir, videos, audio_track, fps, segment_seconds, audio.language if audio else "")
    packaged = _describe(out_dir, videos, audio_track, segment_seconds)
    packaged.poster, packaged.sprite_vtt = thumbs.result()
    return packaged


def _side_by_side(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Run every job at once, one thread each; their results in order, or the first job's error once
    all ended (so no ffmpeg is left writing into a directory being discarded)."""
    with ThreadPoolExecutor(max(1, len(jobs)), thread_name_prefix="package") as pool:
        futures: list[Future[T]] = [pool.submit(job) for job in jobs]
    return [f.result() for f in futures]


def _discard(out_dir: Path) -> None:
    """Remove what an attempt wrote (only our own names), leaving the staging dir as it was given."""
    for name in ("cmaf", THUMBS_DIR):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    for name in ("master.m3u8", "manifest.mpd"):
        (out_dir / name).unlink(missing_ok=True)


def _check_inputs(layout: WorkLayout, renditions: Sequence[Rendition], chunks: Sequence[Chunk],
                  fps: Fraction | None, audio: AudioInfo | None, segment_seconds: float) -> None:
    if segment_seconds <= 0:
        raise InvalidRequest(f"segment duration must be positive, got {segment_seconds}.")
    if renditions and not fps:
        raise InvalidRequest("video renditions need the title's frame rate to be cut on the segment grid.")
    if not renditions and audio is None:
        raise InvalidRequest("nothing to package: no video rendition and no audio.")
    for rendition in renditions:
        if not _SAFE_NAME.fullmatch(rendition.name) or rendition.name == AUDIO_TRACK:
            raise InvalidRequest(f"rendition name {rendition.name!r} cannot be a directory name.",
                                 hint="use letters, digits, '-' or '_', e.g. 720p")
        for chunk in chunks:
            path = layout.chunk_file(rendition.name, chunk.index)
            _need_file(path, f"chunk {chunk.index} of {rendition.name}")
    if renditions and not chunks:
        raise InvalidRequest("video renditions were given but no chunks.")
    if audio is not None:
        _need_file(layout.audio_file, "the audio track")


def _need_file(path: Path, what: str) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        raise JobError(f"{what} is missing or empty: {path}.", hint="re-run the encode step for this title")


def _assemble(tools: Tools, layout: WorkLayout, rendition: Rendition, chunks: Sequence[Chunk], scratch: Path,
              stop: threading.Event | None) -> Path:
    files = [layout.chunk_file(rendition.name, c.index) for c in sorted(chunks, key=lambda c: c.index)]
    list_file = scratch / f"{rendition.name}.txt"
    list_file.write_text(build_concat_list(files), encoding="utf-8")
    out = scratch / f"{rendition.name}.mp4"
    _run(build_concat_args(tools, list_file, out), f"joining the chunks of {rendition.name}", stop)
    return out


def _segment(tools: Tools, source: Path, track_dir: Path, hls_time: float, stream: str,
             stop: threading.Event | None) -> Track:
    track_dir.mkdir(parents=True, exist_ok=False)
    args = build_segment_args(tools, source, track_dir, hls_time, stream)
    _run(args, f"segmenting {track_dir.name}", stop)
    return scan_track(track_dir)


def _run(args: list[str], what: str, stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Cancelled(f"packaging stopped before {what}.")
    try:
        run(args, what, stop=stop)
    except JobError:
        if stop is not None and stop.is_set():
            raise Cancelled(f"packaging stopped during {what}.") from None
        raise


def _write_manifests(out_dir: Path, videos: list[Track], audio: Track | None, fps: Fraction | None,
                     segment_seconds: float, language: str) -> None:
    """Media playlists replace ffmpeg's (they now carry measured durations); then master and MPD."""
    for track in [*videos, *([audio] if audio else [])]:
        (track.directory / PLAYLIST_NAME).write_text(media_playlist(track), encoding="utf-8")
    variants = plan_variants(videos, audio, segment_seconds)
    (out_dir / "master.m3u8").write_text(master_playlist(variants, audio, fps, language), encoding="utf-8")
    duration = videos[0].duration if videos else audio.duration if audio else 0.0
    mpd = dash_manifest(videos, audio, fps, duration, segment_seconds, language)
    (out_dir / "manifest.mpd").write_text(mpd, encoding="utf-8")


def _describe(out_dir: Path, videos: list[Track], audio: Track | None,
              segment_seconds: float) -> PackagedTitle:
    variants = plan_variants(videos, audio, segment_seconds)
    renditions = [{"name": v.track.name, "width": v.track.init.width, "height": v.track.init.height,
                   "bandwidth": v.bandwidth, "frames": v.track.frames} for v in variants if videos]
    audio_info = {"codec": audio.init.codec, "channels": audio.init.channels} if audio else None
    return PackagedTitle(root=out_dir, renditions=renditions, audio=audio_info)


def _thumbnails(tools: Tools, out_dir: Path, layout: WorkLayout, joined: dict[Rendition, Path],
                duration: float, stop: threading.Event | None) -> tuple[str, str | None]:
    """(poster, sprite track) relative to `out_dir`: the poster from the top rung, the sprite from the
    smallest rung still as wide as a tile; an audio-only title's poster from its sound."""
    if stop is not None and stop.is_set():
        raise Cancelled("packaging stopped before the thumbnails.")
    if not joined:
        return make_audio_poster(tools, layout.audio_file, out_dir), None
    by_size = sorted(joined, key=lambda r: r.width * r.height)
    top = by_size[-1]
    small = next((r for r in by_size if r.width >= SPRITE_TILE_WIDTH), top)
    poster, _sprite, vtt = make_thumbnails(tools, joined[top], duration, out_dir,
                                           tile_width=SPRITE_TILE_WIDTH, sprite_video=joined[small],
                                           sprite_size=(small.width, small.height))
    return poster, vtt
