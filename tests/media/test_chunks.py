"""Chunk plans: on the segment grid, enough to keep workers busy, and not one frame lost at a seam."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import pytest

from server.errors import InvalidRequest
from server.media.chunks import boundary_frame, keyframes_in_chunk, plan_chunks, segment_count
from server.media.model import MediaInfo, VideoInfo

NTSC = Fraction(30000, 1001)


def expected_frames(duration: float, fps: Fraction) -> int:
    """What the pipeline verifies against: MediaInfo.expected_frames of such a title."""
    video = VideoInfo(0, "h264", 320, 180, Fraction(1), 0, fps, False, False, "yuv420p", 8, False, False)
    return MediaInfo(Path("x.mp4"), 1, duration, "mp4", video, None).expected_frames


def test_sixty_seconds_on_two_workers_is_four_chunks_then_two_one_segment_chunks_per_worker() -> None:
    chunks = plan_chunks(60.0, Fraction(30), 4.0, 2)
    assert [c.duration for c in chunks] == [8.0, 12.0, 12.0, 12.0, 4.0, 4.0, 4.0, 4.0]
    assert all(c.start % 4.0 == 0 for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == 60.0
    assert [c.index for c in chunks] == list(range(8))
    assert sum(c.frames for c in chunks) == 1800


def test_no_one_segment_tail_for_one_worker_or_a_title_too_short_for_it() -> None:
    assert [c.duration for c in plan_chunks(60.0, Fraction(30), 4.0, 1)] == [20.0, 20.0, 20.0]
    assert [c.duration for c in plan_chunks(20.0, Fraction(30), 4.0, 2)] == [8.0, 12.0]
    # 30 s: still one chunk of two segments per worker before the tail
    assert [c.duration for c in plan_chunks(30.0, Fraction(30), 4.0, 2)] == [8.0, 8.0, 4.0, 4.0, 4.0, 2.0]


def test_chunks_are_contiguous() -> None:
    chunks = plan_chunks(61.3, NTSC, 4.0, 4)
    for before, after in itertools.pairwise(chunks):
        assert after.start == pytest.approx(before.end)


def test_a_short_clip_stays_one_chunk() -> None:
    """A 10 s clip was faster as one command than chunked (ARCHITECTURE.md)."""
    chunks = plan_chunks(10.0, Fraction(25), 4.0, 2)
    assert len(chunks) == 1
    assert (chunks[0].start, chunks[0].duration, chunks[0].frames) == (0.0, 10.0, 250)


def test_many_workers_never_get_chunks_under_two_segments() -> None:
    chunks = plan_chunks(60.0, Fraction(25), 2.0, 16)
    assert len(chunks) == 15 and all(c.duration >= 4.0 for c in chunks)
    assert all(c.duration >= 10.0 for c in plan_chunks(60.0, Fraction(25), 2.0, 16, min_chunk_seconds=10))


def test_a_short_test_clip_with_short_segments_still_gets_several_chunks() -> None:
    assert [c.start for c in plan_chunks(4.0, Fraction(25), 1.0, 2)] == [0.0, 2.0]
    assert [c.start for c in plan_chunks(12.0, Fraction(25), 1.0, 1)] == [0.0, 4.0, 8.0]


def test_the_last_chunk_ends_at_the_duration_not_on_the_grid() -> None:
    chunks = plan_chunks(37.7, Fraction(24), 4.0, 2)
    assert chunks[-1].end == pytest.approx(37.7)
    assert all(c.start % 4.0 == 0 for c in chunks)


@pytest.mark.parametrize("duration", [0.2, 3.0, 8.01, 29.99, 61.3, 600.04, 3601.5])
@pytest.mark.parametrize("fps", [Fraction(24000, 1001), Fraction(25), NTSC, Fraction(60000, 1001),
                                 Fraction(10)])
@pytest.mark.parametrize("segment,workers", [(4.0, 2), (2.0, 3), (6.0, 8), (1.0, 1)])
def test_frames_sum_exactly_to_the_title(duration: float, fps: Fraction, segment: float,
                                         workers: int) -> None:
    chunks = plan_chunks(duration, fps, segment, workers)
    assert sum(c.frames for c in chunks) == expected_frames(duration, fps)
    assert all(c.frames >= 1 for c in chunks)
    assert all(round(c.start / segment) * segment == c.start for c in chunks)


def test_a_tail_shorter_than_a_frame_joins_the_previous_segment() -> None:
    # 8.01 s at 25 fps is 200 frames: a third segment would start at frame 200 and hold nothing.
    assert segment_count(8.01, Fraction(25), 4.0) == 2
    assert segment_count(8.1, Fraction(25), 4.0) == 3


def test_keyframes_land_on_the_title_grid_in_every_chunk() -> None:
    """Segments of 0.5 s at 25 fps start on frames 0, 12, 25, 38, 50, 62 (12.5 rounds to even)."""
    chunks = plan_chunks(3.0, Fraction(25), 0.5, 2, min_chunk_seconds=1.5)
    assert [(c.start, c.frames) for c in chunks] == [(0.0, 38), (1.5, 37)]
    assert keyframes_in_chunk(chunks[0], 0.5, Fraction(25)) == [0, 12, 25]
    assert keyframes_in_chunk(chunks[1], 0.5, Fraction(25)) == [0, 12, 24]


def test_keyframes_of_all_chunks_are_every_segment_start() -> None:
    fps, segment = NTSC, 4.0
    chunks = plan_chunks(125.3, fps, segment, 3)
    first_frames = [boundary_frame(round(c.start / segment), segment, fps) for c in chunks]
    absolute = sorted(first + k for c, first in zip(chunks, first_frames, strict=True)
                      for k in keyframes_in_chunk(c, segment, fps))
    assert absolute == [boundary_frame(m, segment, fps) for m in range(segment_count(125.3, fps, segment))]


@pytest.mark.parametrize("args", [(0.0, Fraction(25), 4.0, 2), (10.0, Fraction(0), 4.0, 2),
                                  (10.0, Fraction(25), 0.0, 2), (10.0, Fraction(25), 4.0, 0),
                                  (10.0, Fraction(25), 0.01, 2)])
def test_impossible_plans_are_refused_with_a_reason(args: tuple[float, Fraction, float, int]) -> None:
    with pytest.raises(InvalidRequest, match="cannot plan chunks"):
        plan_chunks(*args)
