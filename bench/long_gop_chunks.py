"""The chunk encodes of one source under two plans, the segment grid alone and the grid moved after
the source's keyframes (issue 19 §4): CPU seconds and peak memory of every chunk's ffmpeg.

The encode stage is where the plans differ (each chunk decodes from the keyframe before its start),
and CPU seconds hardly move with other load on a shared machine, where wall times do.

    .venv/bin/python bench/long_gop_chunks.py [--seconds 30] [--source-gop 250] [--threads 1]

`--threads 2` runs every chunk as the ingest runs its tail chunks (x264 slice threads since issue 19
§4); add `--frame-threads` for x264's frame threads, as before, to compare their memory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.encode_ladder import PRESET, SEGMENT, ladder, make_source, one_command
from server.media.chunks import plan_chunks, preroll_seconds
from server.media.encode import build_chunk_args
from server.media.ffmpeg import find_tools
from server.media.model import Chunk, MediaInfo, WorkLayout
from server.media.probe import keyframe_times, probe


def run_chunk(argv: list[str]) -> tuple[float, float]:
    """(CPU seconds, peak MB) of one ffmpeg, from its own rusage."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"chunk encode failed: {proc.stderr.read().decode()[-300:]}")  # type: ignore[union-attr]
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def without_slices(argv: list[str]) -> list[str]:
    """The argv with x264's default frame threads (every `-thread_type slice` pair dropped)."""
    out: list[str] = []
    for arg in argv:
        if arg == "slice" and out and out[-1] == "-thread_type":
            out.pop()
        else:
            out.append(arg)
    return out


def encode_plan(info: MediaInfo, chunks: list[Chunk], work: Path, threads: int,
                frame_threads: bool = False) -> list[tuple[float, float]]:
    tools, rungs, layout = find_tools(), ladder(), WorkLayout(work)
    results = []
    for chunk in chunks:
        for rung in rungs:
            layout.chunk_file(rung.name, chunk.index).parent.mkdir(parents=True, exist_ok=True)
        argv = build_chunk_args(tools, info, chunk, rungs, layout, SEGMENT, PRESET, threads)
        results.append(run_chunk(without_slices(argv) if frame_threads else argv))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--source-gop", type=int, default=250)
    parser.add_argument("--threads", type=int, default=1, help="threads of every chunk's ffmpeg")
    parser.add_argument("--frame-threads", action="store_true",
                        help="x264 frame threads instead of slices when --threads > 1 (the old tail chunks)")
    parser.add_argument("--reference", action="store_true", help="then the one-command ffmpeg alone")
    args = parser.parse_args()
    src = make_source(args.seconds, args.source_gop)
    info = probe(src)
    assert info.video is not None
    keyframes = keyframe_times(src, info.video.index)
    fps = info.video.fps
    plans = {"grid only": plan_chunks(info.duration, fps, SEGMENT, 2),
             "after keyframes": plan_chunks(info.duration, fps, SEGMENT, 2, keyframes=keyframes)}
    print(f"{src.name}: keyframes at {', '.join(f'{k:.2f}' for k in keyframes[:12])} s; load "
          f"{os.getloadavg()[0]:.1f}; chunks run one after another, the two plans side by side", flush=True)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(encode_plan, info, chunks, Path(tmp) / str(i), args.threads,
                                           args.frame_threads)
                   for i, (name, chunks) in enumerate(plans.items())}
        print("| plan | chunks (start+length s) | decoded in vain s | CPU s | peak MB of one chunk |")
        print("|---|---|---|---|---|")
        for name, chunks in plans.items():
            runs = futures[name].result()
            vain = sum(preroll_seconds(round(c.start / SEGMENT), keyframes, SEGMENT, fps) for c in chunks)
            spans = " ".join(f"{c.start:g}+{c.duration:g}" for c in chunks)
            print(f"| {name} | {spans} | {vain:.1f} | {sum(c for c, _ in runs):.1f} | "
                  f"{max(m for _, m in runs):.0f} |", flush=True)
        if args.reference:
            out = Path(tmp) / "b"
            out.mkdir()
            cpu, peak = run_chunk(one_command(src, ladder(), out))
            print(f"| one ffmpeg, split (the reference) | 0+{info.duration:g} | 0 | {cpu:.1f} | {peak:.0f} |")
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
