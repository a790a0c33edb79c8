"""Plan chunk boundaries on the segment grid, and the frame numbers every boundary maps to.

Chunks start on multiples of the segment duration so each chunk's forced keyframes land on the
title's segment grid and rungs stay aligned across chunk seams. Frame counts are computed from
absolute frame numbers (`round(t * fps)`), so the counts of all chunks telescope to the title's
expected frame count: no frame lost or doubled at a seam.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from fractions import Fraction

from server.errors import InvalidRequest
from server.media.model import Chunk

# ARCHITECTURE.md: a 10 s clip was faster as one command, 60 s on 2 workers was best as ~6 chunks.
# At least two segments per chunk gives both at the default 4 s segments (10 s → 1 chunk).
# Fewer, longer chunks would save each one's start-up (~0.5 CPU-s, bench/chunk_startup.py), but a
# title harder in one part than another then leaves a core idle at the end (BENCHMARKS.md, session 7).
MIN_CHUNK_SEGMENTS = 2
CHUNKS_PER_WORKER = 3
# The title ends in TAIL_PER_WORKER one-segment chunks per worker (when it is long enough). Run
# longest first, they fill whatever gap the long chunks leave between the workers, so only the last
# `workers` of them need every core each (frame threads cost x264 ~6% more CPU; before, the last two
# 8 s chunks of the 60 s benchmark ran that way).
TAIL_PER_WORKER = 2
# A keyframe this close after a boundary's time still counts as at or before it (float times of
# ffprobe, rounded to microseconds, against exact frame times).
KEYFRAME_SLACK_S = 0.0005
# How far (in segments) a chunk start may move to begin just after a source keyframe. One keeps the
# plan's balance (a 250-frame GOP at 30 fps leaves one such boundary in every two 4 s segments).
SNAP_SEGMENTS = 1


def boundary_frame(segment: int, segment_seconds: float, fps: Fraction) -> int:
    """Absolute number of the first frame of segment `segment` (exact arithmetic, no float drift)."""
    return round(segment * Fraction(segment_seconds) * fps)


def first_frame(chunk: Chunk, segment_seconds: float, fps: Fraction) -> int:
    """The title's frame number of the chunk's first frame (chunks start on segment boundaries)."""
    return boundary_frame(round(chunk.start / segment_seconds), segment_seconds, fps)


def total_frames(duration: float, fps: Fraction) -> int:
    """Frames of the whole title at the output rate, the same formula as MediaInfo.expected_frames."""
    return round(duration * fps)


def segment_count(duration: float, fps: Fraction, segment_seconds: float) -> int:
    """Segments of the title; a tail shorter than one frame joins the segment before it."""
    total = total_frames(duration, fps)
    count = max(1, math.ceil(duration / segment_seconds))
    while count > 1 and boundary_frame(count - 1, segment_seconds, fps) >= total:
        count -= 1
    return count


def plan_chunks(duration: float, fps: Fraction, segment_seconds: float, workers: int, *,
                min_chunk_seconds: float = 0.0, keyframes: Sequence[float] = ()) -> list[Chunk]:
    """Split the title into chunks of whole segments: about 3 per worker, none shorter than two
    segments (nor than `min_chunk_seconds`), since every chunk pays a process start and a seek;
    then, when the title is long enough, `TAIL_PER_WORKER` one-segment chunks per worker.
    Given the source's `keyframes` (seconds), each chunk starts on the nearest segment boundary
    just after one of them (`keyframe_starts`).

    The last chunk ends at `duration`; the sum of `Chunk.frames` equals `round(duration * fps)`.
    """
    _check(duration, fps, segment_seconds, workers)
    segments = segment_count(duration, fps, segment_seconds)
    shortest = max(min_chunk_seconds, MIN_CHUNK_SEGMENTS * segment_seconds)
    wanted = min(workers * CHUNKS_PER_WORKER, int(duration // shortest))
    count = max(1, min(wanted, segments))
    tail = _tail_chunks(segments, count, workers)
    body, body_count = segments - tail, max(workers, count - workers) if tail else count
    starts = [body * i // body_count for i in range(body_count)] + list(range(body, segments))
    if keyframes:
        starts = snap_starts(starts, keyframe_starts(keyframes, segments, segment_seconds, fps))
    return [_chunk(i, first, [*starts, segments][i + 1], segments, duration, fps, segment_seconds)
            for i, first in enumerate(starts)]


def preroll_seconds(segment: int, keyframes: Sequence[float], segment_seconds: float,
                    fps: Fraction) -> float:
    """Seconds of source a chunk starting at `segment` decodes and throws away: from the last
    keyframe at or before its first frame (where ffmpeg's seek lands) to that frame."""
    start = float(boundary_frame(segment, segment_seconds, fps) / fps)
    before = bisect.bisect_right(keyframes, start + KEYFRAME_SLACK_S) - 1
    return start - keyframes[before] if before >= 0 else start


def keyframe_starts(keyframes: Sequence[float], segments: int, segment_seconds: float,
                    fps: Fraction) -> list[int]:
    """The segments a chunk may start on cheaply: the first, and every one whose first frame is
    less than one segment after a source keyframe. With keyframes on the grid or closer together
    than a segment (most camera files) that is every segment; with a 250-frame GOP (x264's default)
    at 4 s segments, one in two, where a chunk would otherwise decode up to 8.3 s in vain."""
    ordered = sorted(keyframes)
    return [s for s in range(segments)
            if s == 0 or preroll_seconds(s, ordered, segment_seconds, fps) < segment_seconds]


def snap_starts(starts: Sequence[int], allowed: Sequence[int]) -> list[int]:
    """Each planned start moved to the nearest allowed segment at most `SNAP_SEGMENTS` away (the
    earlier one on a tie); starts that land on the same segment merge, so a long-GOP title gets
    fewer, longer chunks. A start with no allowed segment that near stays: a source with very rare
    keyframes (a screen recording, a 10 s GOP in a 4 s test clip) still gets a chunk per worker."""
    return sorted({_snapped(s, allowed) for s in starts} | {0})


def _snapped(start: int, allowed: Sequence[int]) -> int:
    near = [a for a in allowed if abs(a - start) <= SNAP_SEGMENTS]
    return min(near, key=lambda a: (abs(a - start), a)) if near else start


def _tail_chunks(segments: int, count: int, workers: int) -> int:
    """How many one-segment chunks end the title: none for one worker (nothing to balance), for a
    title too short to give every worker a chunk of its own, or unless a chunk of at least two
    segments per worker still comes before them. (`min_chunk_seconds` keeps short titles whole; these
    end a title that is chunked anyway.)"""
    tail = TAIL_PER_WORKER * workers
    enough = segments >= tail + MIN_CHUNK_SEGMENTS * max(workers, count - workers)
    return tail if 1 < workers < count and enough else 0


def _chunk(index: int, first: int, end: int, segments: int, duration: float, fps: Fraction,
           segment_seconds: float) -> Chunk:
    start = first * segment_seconds
    stop = duration if end == segments else end * segment_seconds
    first_frame = boundary_frame(first, segment_seconds, fps)
    end_frame = total_frames(duration, fps) if end == segments else boundary_frame(end, segment_seconds, fps)
    return Chunk(index, start, stop - start, end_frame - first_frame)


def keyframes_in_chunk(chunk: Chunk, segment_seconds: float, fps: Fraction) -> list[int]:
    """Chunk-relative frame numbers that must be keyframes: the first frame of every segment in it."""
    base = first_frame(chunk, segment_seconds, fps)
    frames: list[int] = []
    segment = round(chunk.start / segment_seconds)
    while (offset := boundary_frame(segment, segment_seconds, fps) - base) < chunk.frames:
        frames.append(offset)
        segment += 1
    return frames


def _check(duration: float, fps: Fraction, segment_seconds: float, workers: int) -> None:
    if not duration > 0 or not fps > 0 or not segment_seconds * fps >= 1 or workers < 1:
        raise InvalidRequest(
            f"cannot plan chunks for duration={duration}, fps={fps}, segment_seconds={segment_seconds}, "
            f"workers={workers}", hint="duration and frame rate must be positive, a segment at "
            "least one frame long, workers at least 1")
