"""Long-GOP sources: chunks start just after a source keyframe, so none decodes seconds of source
only to throw them away (issue 19 §4), and the title still verifies."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import pytest

from server.media.chunks import keyframe_starts, plan_chunks, preroll_seconds
from server.media.probe import keyframe_times
from tests.jobs.helpers import cli, events, json_lines

GOP_250 = [n * 250 / 30 for n in range(8)]  # x264's default keyframe interval at 30 fps: 8.33 s


def prerolls(starts: list[float], keyframes: list[float]) -> list[float]:
    """Seconds each chunk start lies after the source keyframe ffmpeg's seek lands on."""
    return [start - max(k for k in keyframes if k <= start + 1e-3) for start in starts]


def test_a_gop_250_source_gets_chunk_starts_less_than_one_segment_after_a_keyframe() -> None:
    chunks = plan_chunks(60.0, Fraction(30), 4.0, 2, keyframes=GOP_250)
    starts = [c.start for c in chunks]
    assert all(p < 4.0 for p in prerolls(starts, GOP_250)), starts
    assert all(s % 4.0 == 0 for s in starts), "chunks must stay on the segment grid"
    assert sum(c.frames for c in chunks) == 1800 and chunks[-1].end == 60.0
    for before, after in itertools.pairwise(chunks):
        assert after.start == pytest.approx(before.end)
    # without the keyframes, the 8 s chunk alone would decode 8 s in vain
    plain = [c.start for c in plan_chunks(60.0, Fraction(30), 4.0, 2)]
    assert sum(prerolls(starts, GOP_250)) < sum(prerolls(plain, GOP_250)) / 2


def test_keyframes_on_the_grid_leave_the_plan_as_it_was() -> None:
    """A 1 s GOP (cameras) puts a keyframe on every 4 s boundary: nothing to move, tails kept."""
    one_second = [float(n) for n in range(60)]
    plain = plan_chunks(60.0, Fraction(30), 4.0, 2)
    assert plan_chunks(60.0, Fraction(30), 4.0, 2, keyframes=one_second) == plain
    assert keyframe_starts(one_second, 15, 4.0, Fraction(30)) == list(range(15))


def test_preroll_counts_from_the_keyframe_at_or_before_the_boundary() -> None:
    assert preroll_seconds(2, GOP_250, 4.0, Fraction(30)) == pytest.approx(8.0)
    assert preroll_seconds(3, GOP_250, 4.0, Fraction(30)) == pytest.approx(12 - 250 / 30)
    # ffprobe prints times rounded to microseconds: a keyframe "just after" the boundary is on it
    assert preroll_seconds(2, [0.0, 8.000001], 4.0, Fraction(30)) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.slow
def test_a_real_long_gop_clip_is_chunked_after_its_keyframes_and_still_verifies(tmp_path: Path,
                                                                                make_clip) -> None:
    clip = make_clip("long_gop.mp4", seconds=40, size="320x180", fps=30,
                     extra=["-g", "250", "-keyint_min", "250", "-sc_threshold", "0"])
    keyframes = keyframe_times(clip, 0)
    assert keyframes == pytest.approx(GOP_250[:5], abs=1e-3)
    run = cli("ingest", str(clip), "--data-dir", str(tmp_path / "d"), "--json", "--workers", "2")
    assert run.returncode == 0, run.stderr
    [result] = json_lines(run.stdout)
    assert result["status"] == "published", result["error"]  # published = the integrity check passed
    done = sorted((e["task"], e["out_seconds"]) for e in events(tmp_path / "d", "encode")
                  if e["type"] == "task_done" and e["task"].startswith("chunk-"))
    lengths = [seconds for _, seconds in done]
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    assert len(starts) > 1, "a 40 s title on two workers is chunked"
    assert all(p < 4.0 for p in prerolls(starts, keyframes)), starts


def test_a_source_with_rare_keyframes_still_gets_a_chunk_per_worker() -> None:
    """A start moves at most one segment: with no keyframe near (a 10 s GOP in a 4 s clip, a screen
    recording) the chunk pays its preroll rather than leaving a core without work."""
    chunks = plan_chunks(4.0, Fraction(25), 1.0, 2, keyframes=[0.0])
    assert len(chunks) == 2 and chunks == plan_chunks(4.0, Fraction(25), 1.0, 2)
