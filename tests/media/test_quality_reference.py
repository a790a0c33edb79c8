"""The quality step's cost (issue 19 §1): the source decoded once for every rung, the same figures,
a long title's scored frames capped, nothing left behind on a stop or a failure."""

from __future__ import annotations

import stat
import subprocess
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import pytest

from server.errors import Cancelled
from server.media.ffmpeg import FFmpegFailed, find_measuring_tool, find_tools
from server.media.model import VideoInfo
from server.media.probe import probe
from server.media.quality import effective_every, reference_mb, score_rungs
from tests.conftest import generate_clip
from tests.jobs.helpers import fill, mounted_small_disk

FRAMES = 75  # 3 s at 25 fps


@pytest.fixture(scope="module")
def title(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, VideoInfo, list[str]]:
    """A 3 s source and five rungs encoded from it, like a ladder's (different sizes and CRFs)."""
    folder = tmp_path_factory.mktemp("reference")
    source = generate_clip(folder / "src.mp4", seconds=3, size="320x180", fps=25, audio=False,
                           extra=["-crf", "10"])
    rungs = []
    for i, (size, crf) in enumerate([("320:180", 22), ("288:162", 26), ("256:144", 30), ("192:108", 34),
                                     ("160:90", 38)]):
        out = folder / f"r{i}.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-vf", f"scale={size}", "-c:v",
                        "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", str(out)],
                       check=True)
        rungs.append(str(out))
    info = probe(source, find_tools())
    assert info.video is not None
    return source, info.video, rungs


def counting_ffmpeg(folder: Path) -> tuple[str, Path]:
    """The real main ffmpeg behind a shim that appends a line to a file each time it starts."""
    calls, shim = folder / "calls.txt", folder / "ffmpeg-counted"
    shim.write_text(f'#!/bin/sh\necho run >> "{calls}"\nexec "{find_tools().ffmpeg}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return str(shim), calls


def test_five_rungs_decode_the_source_once_with_the_figures_of_a_decode_per_pass(
        title: tuple[Path, VideoInfo, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five rungs at three a pass decoded the source twice (once per pass, 2 x ~17 CPU-s on the
    bench's 30 s 1080p source); now once, into a file every rung's scorer reads, for the same figures."""
    source, video, rungs = title
    main, calls = counting_ffmpeg(tmp_path)
    once = score_rungs(main, find_measuring_tool(), rungs, str(source), video, FRAMES, 10, per_pass=3)
    assert calls.read_text().count("run") == 1
    monkeypatch.setenv("MINIFLIX_QUALITY_REFERENCE_MAX_MB", "0")  # no file: the piped passes
    calls.unlink()
    per_pass = score_rungs(main, find_measuring_tool(), rungs, str(source), video, FRAMES, 10, per_pass=3)
    assert calls.read_text().count("run") == 2
    assert [len(scores) for scores in once] == [7] * 5
    assert once == per_pass  # every frame number and figure, in the rungs' order
    assert once[0][0].vmaf > once[4][0].vmaf  # each rung its own figures


def test_a_long_title_scores_at_most_quality_max_scored_frames_per_rung() -> None:
    """Every 20th frame of a 2 h title at 30 fps would score 10,800 frames per rung (~0.13 CPU-s
    each at 1080p, and a reference file of 100 GB); capped at 300, spread over the whole title."""
    frames = 2 * 3600 * 30
    every = effective_every(20, frames, 300)
    assert every == 720 and frames // every == 300
    assert effective_every(20, 900, 300) == 20  # the bench's 30 s title: unchanged
    assert effective_every(20, 40, 300) == 1  # a short title: still scored in full
    assert effective_every(1, frames, 300) == 1  # every frame when asked for: exact figures


def test_the_reference_file_of_a_capped_1080p_title_stays_within_the_disk_allowance() -> None:
    hd = VideoInfo(index=0, codec="h264", width=1920, height=1080, sar=Fraction(1), rotation=0,
                   fps=Fraction(30), vfr=False, interlaced=False, pix_fmt="yuv420p", bit_depth=8,
                   full_range=False, hdr=False)
    frames = 2 * 3600 * 30
    assert reference_mb(hd, frames, effective_every(20, frames, 300)) < 4096  # the default allowance
    assert reference_mb(hd, frames, 20) > 90_000  # uncapped: the piped passes would have to do


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob("miniflix-vmaf-*"))


def test_a_stop_while_scoring_kills_the_scorers_and_removes_the_reference(
        title: tuple[Path, VideoInfo, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, video, rungs = title
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stop = threading.Event()

    def stop_once_the_reference_is_written() -> None:
        while not list(tmp_path.glob("miniflix-vmaf-*/rung*.json")) and not stop.is_set():
            time.sleep(0.01)  # polling only decides when to stop; nothing is timed
        stop.set()

    watcher = threading.Thread(target=stop_once_the_reference_is_written)
    watcher.start()
    with pytest.raises(Cancelled):
        score_rungs(find_tools().ffmpeg, find_measuring_tool(), rungs * 4, str(source), video, FRAMES, 1,
                    per_pass=3, stop=stop)
    stop.set()
    watcher.join()
    assert leftovers(tmp_path) == []


def test_a_rung_that_cannot_be_read_fails_the_measure_and_removes_the_reference(
        title: tuple[Path, VideoInfo, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, video, rungs = title
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(FFmpegFailed, match="measuring the quality of a rung"):
        score_rungs(find_tools().ffmpeg, find_measuring_tool(), [*rungs[:2], str(broken), *rungs[2:]],
                    str(source), video, FRAMES, 10, per_pass=3)
    assert leftovers(tmp_path) == []


def test_on_a_nearly_full_disk_the_source_is_piped_instead_with_the_same_figures(
        title: tuple[Path, VideoInfo, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every frame of the 3 s clip is 6.2 MB raw: on a real 20 MB disk with 5 MB left, writing it
    failed the measure (no space left); the passes need no disk beyond the libvmaf logs."""
    source, video, rungs = title
    expected = score_rungs(find_tools().ffmpeg, find_measuring_tool(), rungs[:2], str(source), video,
                           FRAMES, 1, per_pass=3)
    with mounted_small_disk(tmp_path / "disk") as disk:
        fill(disk, leave=5 * 2**20)
        monkeypatch.setattr(tempfile, "tempdir", str(disk))
        scored = score_rungs(find_tools().ffmpeg, find_measuring_tool(), rungs[:2], str(source), video,
                             FRAMES, 1, per_pass=3)
        assert leftovers(disk) == []
    assert scored == expected and len(scored[0]) == FRAMES
