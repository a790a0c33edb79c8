"""The encode stage of a 1080p title holds one ladder's memory, not one per worker (issue 19 §4).

Each chunk encode is one ffmpeg with the whole ladder's x264 encoders; their lookahead and reference
frames (~290 of the ~360 MB a 1080p-ladder chunk holds) exist once per process whatever its
threads. Two single-threaded chunks side by side held about twice what ONE ffmpeg encoding the
whole ladder with two threads holds; one chunk at a time on both cores holds about as much.
Resident memory does not depend on the machine's load.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from server.jobs.chunk_work import ChunkWork, chunk_spec
from server.jobs.executor import LocalExecutor
from server.media.chunks import plan_chunks
from server.media.codecs import x264_args
from server.media.ffmpeg import find_tools
from server.media.ladder import plan_ladder
from server.media.model import MediaInfo, Rendition
from server.media.probe import probe, with_keyframes
from server.media.progress import ProgressUpdate

WORKERS = 2


class Quiet:
    def started(self, name: str, attempt: int) -> None: ...
    def progress(self, name: str, update: ProgressUpdate) -> None: ...
    def done(self, name: str, wall_s: float, worker: str = "") -> None: ...
    def failed(self, name: str, error: str, attempt: int, final: bool) -> None: ...


def one_command(info: MediaInfo, rungs: list[Rendition], out: Path) -> list[str]:
    """The whole ladder from ONE ffmpeg (one decode, split, scale), same x264 settings, two threads."""
    splits = "".join(f"[s{i}]" for i in range(len(rungs)))
    graph = f"[0:v]split={len(rungs)}{splits};" + ";".join(
        f"[s{i}]scale={r.width}:{r.height}[o{i}]" for i, r in enumerate(rungs))
    args = [find_tools().ffmpeg, "-v", "error", "-y", "-threads", str(WORKERS), "-i", str(info.path),
            "-filter_complex", graph]
    for i, r in enumerate(rungs):
        args += ["-map", f"[o{i}]", *x264_args(r, "veryfast", WORKERS, 250), str(out / f"{r.name}.mp4")]
    return args


def peak_of_one(argv: list[str]) -> float:
    """ru_maxrss (MB) of one process."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert status == 0, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    return usage.ru_maxrss / 1024


def ffmpeg_children_mb() -> float:
    total = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.name().startswith("ffmpeg"):
                total += child.memory_info().rss
    return total / 2**20


@pytest.mark.slow
def test_the_chunk_encodes_of_a_1080p_title_hold_less_than_one_ffmpeg_encoding_the_whole_ladder(
        make_clip: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MINIFLIX_CHUNKS_SIDE_BY_SIDE", raising=False)   # the default
    source = make_clip("hd.mp4", seconds=6, size="1920x1080", fps=30, audio=False)
    info = with_keyframes(probe(source))
    assert info.video is not None
    rungs = plan_ladder(info.video)
    assert rungs[0].height == 1080 and len(rungs) >= 4
    (tmp_path / "one").mkdir()
    reference = peak_of_one(one_command(info, rungs, tmp_path / "one"))

    chunks = plan_chunks(info.duration, info.video.fps, 1.0, WORKERS)
    assert len(chunks) >= 3
    specs = [chunk_spec(ChunkWork("t", info, c, tuple(rungs), 1.0, "veryfast", str(source),
                                  str(tmp_path / "work"))) for c in chunks]
    peak, done = 0.0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, ffmpeg_children_mb())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        outcome = LocalExecutor(WORKERS).run_all(specs, Quiet(), threading.Event())
    finally:
        done.set()
        sampler.join()
    assert sorted(outcome.done) == sorted(s.name for s in specs) and not outcome.failed
    # measured: one chunk at a time ~470 MB (x264 frame threads) against ~470 for the one command,
    # ~390 in slice threads; two side by side ~740. The bound: 1.2x the one command.
    print(f"peak {peak:.0f} reference {reference:.0f}")
    assert peak <= 1.2 * reference, f"chunk encodes peaked at {peak:.0f} MB, one ffmpeg {reference:.0f} MB"
