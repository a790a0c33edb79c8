"""Benchmark: what one more chunk costs, the price of splitting a title finer.

The same seconds of the encode benchmark's source (`bench/encode_ladder.py`) encoded by the ingest's
own chunk command (all five rungs, one decode, single-threaded) two ways, one after the other:
`--pieces` chunks of `--segment` seconds each, against the baseline, one chunk of all those seconds.
The difference, divided by the extra chunks, is each chunk's start-up: process start, five x264
encoders opened, their first frames. Also the cost of a one-frame chunk. CPU is the ffmpeg's own
(`getrusage` of the waited-for child), so other load on the machine does not count.

    .venv/bin/python bench/chunk_startup.py [--pairs 3] [--pieces 3] [--segment 4] [--at 24]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.encode_ladder import PRESET, make_source
from server.media.encode import build_chunk_args
from server.media.ffmpeg import Tools, find_tools
from server.media.ladder import plan_ladder
from server.media.model import Chunk, MediaInfo, Rendition, WorkLayout
from server.media.probe import probe


def encode_cpu(tools: Tools, info: MediaInfo, rungs: list[Rendition], start: float, seconds: float,
               frames: int, segment: float) -> float:
    """CPU-s of one chunk encode of `frames` frames from `start`, written to a scratch directory."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = WorkLayout(Path(tmp))
        for rung in rungs:
            layout.chunk_file(rung.name, 0).parent.mkdir(parents=True, exist_ok=True)
        args = build_chunk_args(tools, info, Chunk(0, start, seconds, frames), rungs, layout, segment,
                                PRESET, 1)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(args, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="split/whole pairs to run")
    parser.add_argument("--pieces", type=int, default=3, help="chunks the split side uses")
    parser.add_argument("--segment", type=float, default=4.0, help="seconds per piece")
    parser.add_argument("--at", type=float, default=24.0, help="where in the source to start")
    opts = parser.parse_args()
    if opts.pieces < 2 or opts.segment <= 0 or not 0 <= opts.at <= 60 - opts.pieces * opts.segment:
        parser.error("need --pieces of at least 2 and --segment > 0 that fit the 60 s source from --at")
    src = make_source(60, 30)
    tools = find_tools()
    info = probe(src, tools)
    assert info.video is not None
    rungs, fps = plan_ladder(info.video), info.video.fps
    piece_frames, whole_s = round(opts.segment * fps), opts.segment * opts.pieces

    def run(start: float, seconds: float, frames: int) -> float:
        return encode_cpu(tools, info, rungs, start, seconds, frames, opts.segment)

    print(f"source: {src.name}; {opts.pieces} x {opts.segment:g} s chunks against one {whole_s:g} s "
          f"chunk (baseline) from {opts.at:g} s; preset {PRESET}, 1 thread")
    print(f"{'pair':>4} | {'split CPU-s':>11} | {'whole CPU-s':>11} | {'per extra chunk':>15}")
    extra: list[float] = []
    for pair in range(1, opts.pairs + 1):
        split = sum(run(opts.at + i * opts.segment, opts.segment, piece_frames)
                    for i in range(opts.pieces))
        whole = run(opts.at, whole_s, piece_frames * opts.pieces)
        extra.append((split - whole) / (opts.pieces - 1))
        print(f"{pair:>4} | {split:>11.2f} | {whole:>11.2f} | {extra[-1]:>15.2f}")
    one_frame = statistics.median(run(opts.at, opts.segment, 1) for _ in range(3))
    print(f"median cost of one extra chunk: {statistics.median(extra):.2f} CPU-s; "
          f"a one-frame chunk: {one_frame:.2f} CPU-s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
