"""The per-title analysis' sampled VMAF against full-frame VMAF of the same window encode (real
ffmpeg, real libvmaf): the hull is built from sampled points, so a sampling error moves the rungs."""

from __future__ import annotations

import itertools
import statistics
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from server.media import ffmpeg
from server.media.ffmpeg import find_measuring_tool, find_tools
from server.media.per_title import (
    analysis_every,
    build_probe_encode_args,
    build_window_args,
    sample_windows,
    score_vmaf,
    window_frames,
    window_video,
)
from server.media.probe import probe, with_keyframes
from server.media.quality import scored_frames


@pytest.mark.parametrize("windows", [2, 4])
@pytest.mark.parametrize("window", [0, 1])
@pytest.mark.parametrize("fps", [Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(50)])
def test_a_window_is_scored_at_several_frames_spread_over_it(fps: Fraction, window: int,
                                                             windows: int) -> None:
    frames = window_frames(1.0, fps)
    scored = scored_frames(frames, analysis_every(frames, window, windows))
    assert len(scored) >= (3 if windows == 4 else 6)  # a short title's two windows: more frames each
    assert max(scored) - min(scored) >= frames // 2   # from its start to its second half


@pytest.mark.parametrize("windows", [2, 4])
@pytest.mark.parametrize("fps", [Fraction(24), Fraction(25), Fraction(30000, 1001)])
def test_the_scored_frames_are_not_all_on_one_b_frame_phase(fps: Fraction, windows: int) -> None:
    # x264 (3 B-frames) puts a P-frame on every 4th frame; one frame in 4 scored the 2nd or 3rd of
    # each 4, only B-frames (noisy sport read 1.12 VMAF low). Over the windows every phase is scored.
    frames = window_frames(1.0, fps)
    phases = set()
    for window in range(windows):
        phases |= {f % 4 for f in scored_frames(frames, analysis_every(frames, window, windows))}
    assert phases == {0, 1, 2, 3}


@pytest.mark.parametrize(("windows", "index"), [(4, 2), (2, 0), (2, 1)])
def test_the_analysis_reads_a_windows_vmaf_as_every_frame_does(shared_media: Path, tmp_path: Path,
                                                                windows: int, index: int) -> None:
    # The 10-bit HEVC clip's third window of four at 240p CRF 20: its frame 1 (a B-frame right after
    # the keyframe) scored 8.6 VMAF points under the window's full-frame mean. The 12 s clip now gets
    # two windows, each scored one frame in 3.
    info = probe(shared_media / "hevc_main10_10bit.ts")
    assert info.video is not None
    main, tool = find_tools().ffmpeg, find_measuring_tool()
    start, seconds = sample_windows(info.duration, windows)[index]
    cut, encode = tmp_path / "window.mkv", tmp_path / "240p_crf20.h264"
    ffmpeg.run(build_window_args(main, info, start, seconds, cut), "cut")
    ffmpeg.run(build_probe_encode_args(main, cut, [(426, 240)], [20], "veryfast", [encode]), "encode")
    frames, video = window_frames(seconds, info.video.fps), window_video(info.video)
    [sampled] = score_vmaf(main, tool, [encode], cut, video, frames, None, window_index=index,
                           windows=windows)
    [full] = score_vmaf(main, tool, [encode], cut, video, frames, None, every=1)
    assert len(full) == frames
    assert abs(statistics.fmean(s.vmaf for s in sampled) - statistics.fmean(s.vmaf for s in full)) < 1.0


def test_a_window_holds_the_titles_own_frames_where_seeking_lands_late(shared_media: Path,
                                                                      tmp_path: Path) -> None:
    # Seeking the PAL MXF clip to 3.475 s delivered its first frame 0.56 s late and the rate filter
    # filled the gap with it: 16 of the window's 25 frames were one picture (its bitrate read 2.3x low).
    # The ingest scans the keyframes (none with a time here: the window is cut from the start).
    info = with_keyframes(probe(shared_media / "mpeg2_pal_anamorphic.mxf"))
    cut = tmp_path / "window.mkv"
    start, seconds = sample_windows(info.duration, 4)[1]    # 3.475 s
    ffmpeg.run(build_window_args(find_tools().ffmpeg, info, start, seconds, cut), "cut")
    hashes = [line.rsplit(",", 1)[-1] for line in subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(cut), "-f", "framemd5", "-"], capture_output=True, text=True,
        check=True).stdout.splitlines() if not line.startswith("#")]
    assert len(hashes) == 25
    longest = max(len(list(run)) for _, run in itertools.groupby(hashes))
    assert longest <= 3          # the clip itself shows each picture 2-3 times, never more
