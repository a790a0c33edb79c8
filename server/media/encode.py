"""Encode one chunk of the source into every video rung with ONE ffmpeg: one decode, split, scale.

Why these choices (measured, see ARCHITECTURE.md "Media format"):
- The chunk is cut from the source by source_cut.py: the decode starts at the scanned source
  keyframe before the chunk (the one point a TS or MXF seek lands on exactly; an MXF, whose
  keyframes have no time, from its start), frames before `start` are dropped by the head of the
  filter chain; `start` is the exact time of the chunk's first output frame, on the segment grid,
  so forced keyframes line up and no frame repeats at a seam.
- Rotation: ffmpeg's autorotate (the default) turns the picture upright in front of our graph AND
  drops the display matrix from the output. With `-noautorotate` + our own transpose, ffmpeg 5.1
  still copies the source's display matrix into the output, and players would turn it a second time.
- Capped CRF (`-crf` + `-maxrate` + `-bufsize`) keeps quality even across seams; one-pass ABR
  restarted rate control at each seam.
- Threads: one chunk at a time gets every worker's core (`LocalExecutor`, setting
  `chunks_side_by_side`): the ladder's x264 state, most of a chunk's memory, then exists once.
  With chunks side by side each runs `-threads 1`, the tail chunks threaded (`thread_args`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from pathlib import Path

from server import config
from server.errors import MediaError
from server.media import ffmpeg
from server.media.chunks import first_frame, keyframes_in_chunk
from server.media.codecs import codec_of, encoder_args
from server.media.ffmpeg import Tools
from server.media.filters import REFERENCE_LABEL, filter_graph, output_label
from server.media.model import Chunk, MediaInfo, Rendition, VideoInfo, WorkLayout
from server.media.progress import ProgressUpdate
from server.media.reference_pieces import holds_frames, piece_chain, piece_frames, piece_output_args
from server.media.source_cut import Cut, cut


def part_path(final: Path) -> Path:
    """Where ffmpeg writes before the rename; never mistaken for a finished chunk.

    The name carries this process's id: after a `kill -9` the dead run's ffmpeg children go on
    until their chunk ends, and a resumed run must not write into the same file beside them.
    """
    return final.with_name(f"{final.name}.{os.getpid()}.part")


def seconds(value: float) -> str:
    """A time for ffmpeg's command line, microsecond precision, no exponent."""
    return f"{value:.6f}"


def chunk_cut(info: MediaInfo, chunk: Chunk, segment_seconds: float, fps: Fraction) -> Cut:
    """The source cut of a chunk: from the exact time of its first output frame, for its frames.

    Cutting at the segment time itself (e.g. 1.5 s at 25 fps, between frames 37 and 38) would put
    the first kept frame half a frame in, where the rate filter may repeat it: one frame doubled
    at the seam and one lost at the end.
    """
    return cut(info.keyframes, first_frame(chunk, segment_seconds, fps) / fps, chunk.frames / fps)


def keyframe_expr(chunk: Chunk, segment_seconds: float, fps: Fraction) -> str:
    """`-force_key_frames` expression: the chunk-relative frame number of every segment start."""
    frames = keyframes_in_chunk(chunk, segment_seconds, fps)
    return "expr:" + "+".join(f"eq(n,{n})" for n in frames)


def gop_frames(segment_seconds: float, fps: Fraction) -> int:
    """A max GOP longer than any segment, so x264 never adds a keyframe of its own inside one."""
    return int(2 * segment_seconds * fps) + 2


def keyframe_interval(chunk: Chunk, segment_seconds: float, fps: Fraction) -> int | None:
    """The frame count between the chunk's keyframes when it is always the same (an AV1 rung's
    intra period, see codecs.py); None when the grid spaces them unevenly (4 s at 29.97 fps)."""
    frames = keyframes_in_chunk(chunk, segment_seconds, fps)
    gaps = {b - a for a, b in itertools.pairwise(frames)}
    if len(gaps) > 1:
        return None
    return gaps.pop() if gaps else max(1, round(segment_seconds * fps))


def thread_args(rendition: Rendition, threads: int) -> list[str]:
    """Slice, not frame, threads for a threaded x264 rung of a tail chunk run beside other chunks
    (`chunks_side_by_side` > 1); a chunk that runs alone keeps x264's frame threads.

    x264's frame threads keep a frame per thread in flight in each of the ladder's five encoders:
    a tail chunk of the 1080p ladder held 467 MB at 2 threads against 362 MB at one, and the two
    tail chunks ran side by side. Sliced threads split each frame instead: 380 MB. But slices cost
    bits where they are few: at the same CRF the 8 s slides clip's ladder took 16.5% more bytes in 2
    slices than in one thread or 2 frame threads, the talking head 4.6%, animation 1.2% (the 1080p
    test source 0.2%). One chunk at a time holds one ladder either way, so it keeps frame threads."""
    software = rendition.encoder in ("", codec_of(rendition).encoder)
    x264 = software and codec_of(rendition).encoder == "libx264"
    if x264 and beside_single_threaded(threads):
        return ["-thread_type", "slice"]
    return []


def rung_output_args(index: int, rendition: Rendition, chunk: Chunk, keyframes: str, gop: int,
                     preset: str, threads: int, out: Path, interval: int | None = None) -> list[str]:
    """Everything after the input for one rung's chunk file: map, encoder, exact frame count, MP4."""
    return ["-map", f"[{output_label(index)}]", "-an", "-sn", "-dn", "-map_metadata", "-1",
            "-map_chapters", "-1",
            *encoder_args(rendition, preset, threads, gop, interval, rendition.encoder),
            *thread_args(rendition, threads),
            "-force_key_frames", keyframes, "-frames:v", str(chunk.frames), "-f", "mp4", str(out)]


def build_chunk_args(tools: Tools, info: MediaInfo, chunk: Chunk, renditions: Sequence[Rendition],
                     layout: WorkLayout, segment_seconds: float, preset: str = "veryfast",
                     threads: int = 1, source: str | None = None, reference_every: int = 0) -> list[str]:
    """The whole argv of one chunk encode (pure: no process, no file touched); `source` is read
    instead of `info.path` when given (a URL ffmpeg seeks in with Range, e.g. a presigned GET).
    `reference_every`: also write the chunk's piece of the quality reference sampled at that step
    (`reference_piece`), when it holds a sampled frame."""
    video = _video(info)
    keyframes = keyframe_expr(chunk, segment_seconds, video.fps)
    gop = gop_frames(segment_seconds, video.fps)
    window = chunk_cut(info, chunk, segment_seconds, video.fps)
    interval = keyframe_interval(chunk, segment_seconds, video.fps)
    piece = reference_piece(chunk, segment_seconds, video.fps, layout, reference_every)
    first = first_frame(chunk, segment_seconds, video.fps)
    branch = piece_chain(video, first, reference_every) if piece else []
    args = [tools.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-threads", str(threads), *window.input_args(), "-i", source or str(info.path),
            "-filter_complex", filter_graph(video, renditions, window.head_filters(), branch),
            "-filter_complex_threads", str(threads)]
    for i, rendition in enumerate(renditions):
        out = part_path(layout.chunk_file(rendition.name, chunk.index))
        args += rung_output_args(i, rendition, chunk, keyframes, gop, preset, threads, out, interval)
    if piece:
        count = piece_frames(chunk, first, reference_every)
        args += piece_output_args(REFERENCE_LABEL, count, part_path(piece))
    return args


def reference_piece(chunk: Chunk, segment_seconds: float, fps: Fraction, layout: WorkLayout,
                    reference_every: int) -> Path | None:
    """Where the chunk writes its piece of the quality reference; None for no piece (not asked
    for, or no sampled frame falls in the chunk)."""
    if reference_every <= 0 or not holds_frames(chunk, first_frame(chunk, segment_seconds, fps),
                                                reference_every):
        return None
    return layout.reference_piece(reference_every, chunk.index)


def encode_chunk(tools: Tools, info: MediaInfo, chunk: Chunk, renditions: Sequence[Rendition],
                 layout: WorkLayout, segment_seconds: float, preset: str = "veryfast", *,
                 on_progress: Callable[[ProgressUpdate], None] | None = None,
                 stop: threading.Event | None = None, threads: int = 1, source: str | None = None,
                 reference_every: int = 0) -> None:
    """Encode `chunk` into every rung's chunk file (and its reference piece: `build_chunk_args`); a
    file appears only once ffmpeg succeeded. `source` replaces `info.path` as ffmpeg's input.

    Raises FFmpegFailed (with ffmpeg's last lines) and leaves no partial file behind.
    """
    piece = reference_piece(chunk, segment_seconds, _video(info).fps, layout, reference_every)
    finals = [layout.chunk_file(r.name, chunk.index) for r in renditions] + ([piece] if piece else [])
    for final in finals:
        final.parent.mkdir(parents=True, exist_ok=True)
    args = build_chunk_args(tools, info, chunk, renditions, layout, segment_seconds, preset, threads, source,
                            reference_every)
    try:
        ffmpeg.run(args, f"encode chunk {chunk.index} of {info.path.name}", on_progress=on_progress,
                   stop=stop, spare_cores=beside_single_threaded(threads))
    except BaseException:
        _remove(part_path(f) for f in finals)
        raise
    for final in finals:
        part_path(final).replace(final)


def beside_single_threaded(threads: int) -> bool:
    """Whether a chunk's extra threads must take only idle cores: with chunks side by side
    (setting `chunks_side_by_side` > 1) a threaded chunk is a tail chunk, and a single-threaded one
    may still run beside it. One chunk at a time owns every core, at the encodes' usual priority."""
    return threads > 1 and int(config.get("chunks_side_by_side")) > 1


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _video(info: MediaInfo) -> VideoInfo:
    if info.video is None:
        raise MediaError(f"{info.path.name} has no video stream to encode.",
                         hint="an audio-only title needs only the audio encode")
    return info.video
