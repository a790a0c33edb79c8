"""Benchmark: `miniflix ingest` against the best one ffmpeg command, and one ffmpeg per rung.

Source: 1080p30 with motion and noise, with audio, a keyframe every `--source-gop` frames (250 by
default, x264's and most encoders' default; cameras write 30-60). The same ladder and x264 settings:
(a) miniflix ingest (chunked, parallel, packaged, verified, quality measured), (b) ONE ffmpeg
producing the whole ladder (split filter, one decode), (c) with `--per-rung`, one ffmpeg per rung,
sequential; (a0) with `--plain`, the ingest planning chunks without the source's keyframes.
Targets (issue 19): a/b <= 1.0 in every cell, <= 0.90 at 60 s, top-rung VMAF of (a) not below (b)'s,
peak memory of (a) <= 1.2x (b)'s.

    .venv/bin/python bench/encode_ladder.py --matrix --rounds 3

`--seconds` and `--source-gop` take lists (`--seconds 10,30 --source-gop 30,250`); `--matrix` is
10,30,60 x 30,250. In each cell (a) and (b) run `--rounds` times, alternating (a-b, then b-a, …);
the table gives each one's median run (by wall time) and the spread of the rounds' a/b: on a
shared machine one run can be a few percent off, the size of the difference being measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._measure import Measured, measure
from server import config
from server.media.ffmpeg import find_measuring_tool, find_tools
from server.media.ladder import plan_ladder
from server.media.model import Rendition, VideoInfo
from server.media.probe import probe
from server.media.quality import effective_every, score_rung, summarize
from server.media.verify import Grid

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
PRESET, SEGMENT = "veryfast", 4


def make_source(seconds: int, gop: int) -> Path:
    """1080p30 with moving content and temporal noise, stereo tone; cached between runs.

    `gop` is the source's keyframe interval in frames: cameras and phones write 0.5-2 s GOPs; a
    chunk decodes from the source keyframe before its start, so long GOPs cost chunking more.
    """
    path = OUT / f"source_1080p30_{seconds}s_g{gop}.mp4"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.stem}.part.mp4")  # a killed run leaves no half source in the cache
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=1920x1080:rate=30:duration={seconds},noise=alls=12:allf=t+u",
                    "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", "-pix_fmt", "yuv420p",
                    "-g", str(gop),
                    "-c:a", "aac", "-b:a", "192k", "-ac", "2", str(part)], check=True)
    part.replace(path)
    return path


def ladder() -> list[Rendition]:
    video = VideoInfo(index=0, codec="h264", width=1920, height=1080, sar=Fraction(1), rotation=0,
                      fps=Fraction(30), vfr=False, interlaced=False, pix_fmt="yuv420p", bit_depth=8,
                      full_range=False, hdr=False)
    return plan_ladder(video)


def x264(r: Rendition) -> list[str]:
    return ["-c:v", "libx264", "-preset", PRESET, "-crf", str(r.crf), "-maxrate", f"{r.bitrate_kbps}k",
            "-bufsize", f"{r.bufsize_kbps}k", "-profile:v", "high", "-pix_fmt", "yuv420p",
            "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT})"]


AUDIO = ["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"]


def one_command(src: Path, rungs: list[Rendition], out: Path) -> list[str]:
    splits = "".join(f"[s{i}]" for i in range(len(rungs)))
    graph = f"[0:v]split={len(rungs)}{splits};" + ";".join(
        f"[s{i}]scale={r.width}:{r.height}[o{i}]" for i, r in enumerate(rungs))
    args = ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-filter_complex", graph]
    for i, r in enumerate(rungs):
        args += ["-map", f"[o{i}]", *x264(r), "-an", str(out / f"{r.name}.mp4")]
    return [*args, "-map", "0:a", *AUDIO, "-vn", str(out / "audio.m4a")]


def per_rung(src: Path, r: Rendition, out: Path, with_audio: bool) -> list[str]:
    audio = ["-map", "0:a", *AUDIO] if with_audio else ["-an"]
    return ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-map", "0:v", "-vf",
            f"scale={r.width}:{r.height}", *x264(r), *audio, str(out / f"{r.name}.mp4")]


def run_c(src: Path, rungs: list[Rendition], out: Path) -> Measured:
    script = [[*per_rung(src, r, out, i == 0)] for i, r in enumerate(rungs)]
    code = "import subprocess,json,sys\nfor a in json.loads(sys.argv[1]): subprocess.run(a, check=True)"
    return measure([sys.executable, "-c", code, json.dumps(script)])


def row(name: str, m: Measured, media_s: float, share: float) -> str:
    return (f"| {name} | {m.wall_s:7.1f} | {m.cpu_s:7.1f} | {media_s / m.wall_s:5.2f}x | "
            f"{share * 100:5.1f}% | {m.peak_rss_mb:7.0f} |")


@dataclass
class Run:
    """One measured run of a way, with what the ingest reports about itself."""

    m: Measured
    vmaf: float = float("nan")           # top rung's mean VMAF
    encode_share: float = 0.0            # (a): CPU use of the cores during its encode stage
    stages: dict[str, float] = field(default_factory=dict)
    load: float = 0.0                    # 1-minute load average before the round


def ingest(src: Path, data_dir: Path, workers: int, plain: bool = False) -> Run:
    """Way (a): one `miniflix ingest` (`plain`: chunks planned without the source's keyframes)."""
    entry = ROOT / "bench" / ("_ingest_plain.py" if plain else "../main.py")
    m = measure([sys.executable, str(entry.resolve()), "ingest", str(src), "--data-dir", str(data_dir),
                 "--workers", str(workers), "--json"])
    result = json.loads(m.stdout.strip().splitlines()[-1])
    if result["status"] != "published":
        raise SystemExit(f"ingest failed: {result['error']}")
    timing = result.get("timing") or {}
    top = (result.get("renditions") or [{}])[0].get("quality") or {}
    return Run(m, top.get("vmaf_mean", float("nan")),
               m.cpu_share(timing.get("encode_started_at"), timing.get("encode_ended_at")),
               result.get("stages") or {})


def reference(src: Path, rungs: list[Rendition], out: Path) -> Run:
    """Way (b), its top rung scored as the ingest scores its own (same sampling, same source).
    It runs at the niceness the ingest gives its encodes (`ffmpeg_nice`, 19): on a busy machine a
    nice-0 reference would take the cores from the ingest and the ratio would measure the load."""
    m = measure(["nice", "-n", str(config.get("ffmpeg_nice")), *one_command(src, rungs, out)])
    return Run(m, top_vmaf(src, out / f"{rungs[0].name}.mp4"))


def top_vmaf(src: Path, rung: Path) -> float:
    """Mean VMAF of one encoded rung against the source, sampled like the ingest's measure."""
    info = probe(src)
    if info.video is None:
        return float("nan")
    frames = info.expected_frames
    every = effective_every(config.get("quality_sample_every"), frames)
    scores = score_rung(find_tools().ffmpeg, find_measuring_tool(), str(rung), str(src), info.video,
                        frames, every)
    return summarize(rung.stem, info.video.width, info.video.height, 0.0, scores,
                     Grid.plan(frames, info.video.fps, SEGMENT)).vmaf_mean


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.m.wall_s)[len(runs) // 2]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", default="60", help="source lengths, comma-separated (default 60)")
    parser.add_argument("--source-gop", default="250",
                        help="source keyframe intervals in frames, comma-separated (default 250)")
    parser.add_argument("--matrix", action="store_true", help="the issue's cells: 10,30,60 s x GOP 30,250")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rounds", type=int, default=3, help="runs of (a) and of (b) per cell, alternating")
    parser.add_argument("--plain", action="store_true",
                        help="also (a0): the ingest planning chunks without the source's keyframes")
    parser.add_argument("--per-rung", action="store_true", help="also (c): one ffmpeg per rung, once")
    args = parser.parse_args()
    if args.matrix:
        args.seconds, args.source_gop = "10,30,60", "30,250"
    return args


def run_cell(seconds: int, gop: int, args: argparse.Namespace, work: Path) -> dict[str, list[Run]]:
    """Alternate the ways `args.rounds` times on one source; every round printed as it ends."""
    src, rungs = make_source(seconds, gop), ladder()
    ways = ["a", "b"] + (["a0"] if args.plain else [])
    runs: dict[str, list[Run]] = {w: [] for w in ways}
    for n in range(args.rounds):
        load = os.getloadavg()[0]
        order = ways if n % 2 == 0 else ways[::-1]  # neither way always follows the other
        for way in order:
            out = work / f"{way}{n}"
            out.mkdir()
            run = reference(src, rungs, out) if way == "b" else ingest(src, out, args.workers, way == "a0")
            run.load = load
            runs[way].append(run)
            shutil.rmtree(out)
        a, b = runs["a"][-1], runs["b"][-1]
        print(f"{seconds} s g{gop} round {n + 1} (load {load:.1f}): a/b {a.m.wall_s / b.m.wall_s:.3f}",
              *(f"({w}) {describe(r[-1])}" for w, r in runs.items()), sep="\n  ", flush=True)
        print(f"  (a) stages: {a.stages}\n  (a) at its peak: {peak_breakdown(a.m)}", flush=True)
    if args.per_rung:
        (work / "c").mkdir()
        runs["c"] = [Run(run_c(src, rungs, work / "c"))]
        shutil.rmtree(work / "c")
    return runs


def describe(run: Run) -> str:
    return (f"{run.m.wall_s:.1f} s, {run.m.cpu_s:.1f} CPU-s, peak {run.m.peak_rss_mb:.0f} MB, "
            f"top VMAF {run.vmaf:.2f}")


def peak_breakdown(m: Measured) -> str:
    """The processes alive at the tree's memory peak, largest first."""
    return ", ".join(f"{name} {mb:.0f}" for name, mb in sorted(m.peak_procs, key=lambda p: -p[1]))


def cell_row(seconds: int, gop: int, runs: dict[str, list[Run]]) -> str:
    ratios = [a.m.wall_s / b.m.wall_s for a, b in zip(runs["a"], runs["b"], strict=True)]
    a, b = median_run(runs["a"]), median_run(runs["b"])
    plain = f" | {median_run(runs['a0']).m.wall_s / b.m.wall_s:.3f}" if "a0" in runs else ""
    loads = [r.load for r in runs["a"]]
    return (f"| {seconds} s | {gop} | {a.m.wall_s / b.m.wall_s:.3f} | {statistics.median(ratios):.3f} "
            f"({min(ratios):.3f}-{max(ratios):.3f}) | {a.m.wall_s:.1f} / {b.m.wall_s:.1f} | "
            f"{a.m.cpu_s:.1f} / {b.m.cpu_s:.1f} | {a.m.peak_rss_mb:.0f} / {b.m.peak_rss_mb:.0f} "
            f"({a.m.peak_rss_mb / b.m.peak_rss_mb:.2f}x) | {a.vmaf:.2f} / {b.vmaf:.2f} | "
            f"{a.encode_share * 100:.0f}% | {min(loads):.1f}-{max(loads):.1f}{plain} |")


def main() -> int:
    args = parse_args()
    cells = [(int(s), int(g)) for s in args.seconds.split(",") for g in args.source_gop.split(",")]
    print(f"ladder: {', '.join(r.name for r in ladder())}; preset {PRESET}; {os.cpu_count()} cores; "
          f"{args.workers} workers; {args.rounds} rounds per cell", flush=True)
    rows, extra = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds, gop in cells:
            runs = run_cell(seconds, gop, args, Path(tmp))
            rows.append(cell_row(seconds, gop, runs))
            if "c" in runs:
                extra.append(row(f"(c) ffmpeg per rung, {seconds} s g{gop}", runs["c"][0].m, seconds,
                                 runs["c"][0].m.cpu_share()))
    print("\n| source | GOP | a/b (medians) | rounds' a/b median (min-max) | wall s a / b | CPU s a / b "
          "| peak MB a / b | top VMAF a / b | (a) encode CPU use | load before rounds"
          + (" | a0/b |" if args.plain else " |"))
    print("|---" * (10 + args.plain) + "|")
    print("\n".join(rows))
    if extra:
        print("\n| way | wall s | CPU s | realtime | CPU use of cores | peak MB |\n|---|---|---|---|---|---|")
        print("\n".join(extra))
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (other work on the machine skews wall times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
