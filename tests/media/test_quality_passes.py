"""The quality step's memory (issue 19 §4): rungs scored a few per pass, with the same figures.

One libvmaf at the source's size holds ~160 MB at 1080p; five rungs in one measuring ffmpeg were
an ingest's memory peak (1 GB, more than two chunk encodes side by side)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import psutil
import pytest

from server.media.ffmpeg import find_measuring_tool, find_tools
from server.media.model import VideoInfo
from server.media.probe import probe
from server.media.quality import passes, rungs_per_pass, score_rungs
from tests.conftest import generate_clip

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def encode(source: Path, name: str, size: str, crf: int) -> Path:
    out = source.with_name(name)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-vf", f"scale={size}", "-c:v",
                    "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", str(out)],
                   check=True)
    return out


def video_of(path: Path) -> VideoInfo:
    info = probe(path, find_tools())
    assert info.video is not None
    return info.video


def test_rungs_scored_one_per_pass_get_exactly_the_figures_of_one_pass_for_all(tmp_path: Path) -> None:
    source = generate_clip(tmp_path / "src.mp4", seconds=3, size="320x180", fps=25, audio=False,
                           extra=["-crf", "10"])
    rungs = [str(encode(source, f"r{i}.mp4", size, crf))
             for i, (size, crf) in enumerate([("320:180", 24), ("256:144", 30), ("160:90", 36)])]
    tools, video = (find_tools().ffmpeg, find_measuring_tool()), video_of(source)
    together = score_rungs(*tools, rungs, str(source), video, 75, 10, per_pass=3)
    apart = score_rungs(*tools, rungs, str(source), video, 75, 10, per_pass=1)
    assert all(len(scores) == 7 for scores in together)
    assert apart == together  # every frame number and figure, in the rungs' order
    assert together[0][0].vmaf > together[2][0].vmaf  # and they are the rungs' own, not one copied


def test_five_rungs_go_in_two_passes_of_three_and_two_and_a_4k_source_gets_fewer() -> None:
    assert passes(5, 3) == [[0, 2, 4], [1, 3]]
    assert passes(4, 3) == [[0, 2], [1, 3]] and passes(3, 3) == [[0, 1, 2]] and passes(0, 3) == []
    assert passes(10, 3) == [[0, 4, 8], [1, 5, 9], [2, 6], [3, 7]]

    def video(width: int, height: int) -> VideoInfo:
        return VideoInfo(index=0, codec="h264", width=width, height=height, sar=Fraction(1), rotation=0,
                         fps=Fraction(30), vfr=False, interlaced=False, pix_fmt="yuv420p", bit_depth=8,
                         full_range=False, hdr=False)

    assert [rungs_per_pass(video(w, h), 3) for w, h in ((640, 360), (1920, 1080), (3840, 2160))] == [3, 3, 1]


PEAK_SCRIPT = """
import json, resource, sys
from server.media.ffmpeg import find_measuring_tool, find_tools
from server.media.probe import probe
from server.media.quality import score_rungs
source, rung = sys.argv[1], sys.argv[2]
video = probe(source, find_tools()).video
scores = score_rungs(find_tools().ffmpeg, find_measuring_tool(), [rung] * 5, source, video, 8, 1)
print(json.dumps({"scored": [len(s) for s in scores],
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


@pytest.mark.slow
def test_measuring_five_rungs_of_a_1080p_title_holds_no_more_than_a_chunk_encode(tmp_path: Path) -> None:
    """Peak resident memory of the largest process the step starts (ru_maxrss: independent of load).
    One pass for five rungs held ~1 GB; a chunk encode of the 1080p ladder holds ~360 MB."""
    source = generate_clip(tmp_path / "hd.mp4", seconds=0.4, size="1920x1080", fps=20, audio=False)
    rung = encode(source, "rung.mp4", "320:180", 30)
    run = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(source), str(rung)], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["scored"] == [8] * 5
    assert result["peak_mb"] < 700, result


def children_rss_mb(naming: Path) -> float:
    """Resident memory of the processes this one started (and theirs) whose command line names a
    file under `naming`, in MB: only the step's, not the servers other tests' fixtures left running."""
    total = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a process may end while we look
            if str(naming) in " ".join(child.cmdline()):
                total += child.memory_info().rss
    return total / 2**20


@pytest.mark.slow
def test_rungs_scored_side_by_side_hold_no_more_than_one_pass_of_three(tmp_path: Path) -> None:
    """Two measuring ffmpegs of one rung each, beside each other, against a pass of three rungs
    piped from a decoder (the previous way): the step's processes summed, sampled while
    they run (a sample can only miss the peak, never inflate it)."""
    source = generate_clip(tmp_path / "hd.mp4", seconds=0.8, size="1920x1080", fps=20, audio=False)
    rung = encode(source, "rung.mp4", "320:180", 30)
    video = video_of(source)
    scores, peak = highest_while(lambda: children_rss_mb(tmp_path), 0.02, lambda: score_rungs(
        find_tools().ffmpeg, find_measuring_tool(), [str(rung)] * 5, str(source), video, 16, 1, per_pass=3))
    assert [len(s) for s in scores] == [16] * 5
    # measured: 442 MB side by side, 590 MB for the 3-rung pass with its decoder
    assert 300 < peak < 520, peak


def highest_while(probe: Callable[[], float], every: float, work: Callable[[], T]) -> tuple[T, float]:
    """`work()`'s result and the highest `probe()` read every `every` seconds while it ran."""
    done, highest = threading.Event(), [0.0]

    def sample() -> None:
        while not done.wait(every):
            highest[0] = max(highest[0], probe())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = work()
    finally:
        done.set()
        sampler.join()
    return result, highest[0]


def scorers_now(naming: Path) -> int:
    """How many measuring ffmpegs (libvmaf) this process has running on files under `naming`."""
    count = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            line = " ".join(child.cmdline())
            count += "libvmaf" in line and str(naming) in line
    return count


@pytest.mark.parametrize("workers", [1, 2])
def test_an_ingests_workers_bound_the_scorers_side_by_side(tmp_path: Path, workers: int,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`ingest --workers 1` means one core: the rungs are scored one at a time even where the
    `workers` setting (cores) would allow more; with 2, two at once."""
    source = generate_clip(tmp_path / "sd.mp4", seconds=2.0, size="640x360", fps=25, audio=False)
    rung = encode(source, "rung.mp4", "320:180", 30)
    monkeypatch.setenv("MINIFLIX_WORKERS", "4")
    scores, most = highest_while(lambda: scorers_now(tmp_path), 0.01, lambda: score_rungs(
        find_tools().ffmpeg, find_measuring_tool(), [str(rung)] * 4, str(source), video_of(source), 50, 1,
        per_pass=3, workers=workers))
    assert [len(s) for s in scores] == [50] * 4
    assert most == workers
