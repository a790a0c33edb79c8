"""Benchmark: `miniflix ingest` against the best one ffmpeg command, and one ffmpeg per rung.

Source: 60 s 1080p30 with motion and noise, with audio. The same ladder and x264 settings three ways:
(a) miniflix ingest (chunked, parallel, packaged and verified), (b) ONE ffmpeg producing the whole
ladder (split filter, one decode), (c) one ffmpeg per rung, sequential. Target: a/b <= 0.90 with CPU
use >= 95% of the cores during the encode.

    .venv/bin/python bench/encode_ladder.py [--seconds 60] [--workers N] [--rounds 3]

(a) and (b) run `--rounds` times, alternating (a-b, then b-a, …), and the table gives each one's
median run (by wall time): on a shared machine one run of either can be a few percent off, which is
the size of the difference being measured. Every round's a/b is printed too. (c) runs once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._measure import Measured, measure
from server.media.ladder import plan_ladder
from server.media.model import Rendition, VideoInfo

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
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=1920x1080:rate=30:duration={seconds},noise=alls=12:allf=t+u",
                    "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", "-pix_fmt", "yuv420p",
                    "-g", str(gop),
                    "-c:a", "aac", "-b:a", "192k", "-ac", "2", str(path)], check=True)
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


def ingest(src: Path, data_dir: Path, workers: int) -> tuple[Measured, float]:
    """Way (a): one `miniflix ingest`; its measurement and the CPU share of its encode stage."""
    m = measure([sys.executable, str(ROOT / "main.py"), "ingest", str(src), "--data-dir", str(data_dir),
                 "--workers", str(workers), "--json"])
    result = json.loads(m.stdout.strip().splitlines()[-1])
    if result["status"] != "published":
        raise SystemExit(f"ingest failed: {result['error']}")
    timing = result.get("timing") or {}
    return m, m.cpu_share(timing.get("encode_started_at"), timing.get("encode_ended_at"))


def median_run(runs: list[Measured]) -> Measured:
    return sorted(runs, key=lambda m: m.wall_s)[len(runs) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rounds", type=int, default=3, help="runs of (a) and of (b), alternating")
    parser.add_argument("--source-gop", type=int, default=30,
                        help="keyframe interval of the generated source in frames (default 30 = 1 s)")
    args = parser.parse_args()
    cores, src, rungs = os.cpu_count() or 2, make_source(args.seconds, args.source_gop), ladder()
    print(f"source: {src.name}; ladder: {', '.join(r.name for r in rungs)}; preset {PRESET}; "
          f"{cores} cores; {args.rounds} rounds of (a) and (b)")
    a_runs: list[Measured] = []
    b_runs: list[Measured] = []
    shares: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for n in range(args.rounds):
            (work / f"b{n}").mkdir()
            if n % 2:  # every other round (b) goes first, so neither way always follows the other
                b = measure(one_command(src, rungs, work / f"b{n}"))
            a, share = ingest(src, work / f"a{n}", args.workers)
            shares.append(share)
            if not n % 2:
                b = measure(one_command(src, rungs, work / f"b{n}"))
            a_runs.append(a)
            b_runs.append(b)
            print(f"round {n + 1}: (a) {a.wall_s:.1f} s, (b) {b.wall_s:.1f} s, a/b {a.wall_s / b.wall_s:.3f}",
                  flush=True)
            shutil.rmtree(work / f"a{n}")
            shutil.rmtree(work / f"b{n}")
        (work / "c").mkdir()
        c = run_c(src, rungs, work / "c")
    a, b = median_run(a_runs), median_run(b_runs)
    encode_share = shares[a_runs.index(a)]
    print("\n| way | wall s | CPU s | realtime | CPU use of cores | peak MB |\n|---|---|---|---|---|---|")
    print(row("(a) miniflix ingest", a, args.seconds, a.cpu_share()))
    print(row("(b) one ffmpeg, split", b, args.seconds, b.cpu_share()))
    print(row("(c) ffmpeg per rung", c, args.seconds, c.cpu_share()))
    load = os.getloadavg()[0]
    print(f"\na/b wall ratio (medians): {a.wall_s / b.wall_s:.3f} (target <= 0.90); "
          f"CPU use during (a)'s encode stage: {encode_share * 100:.1f}% of {cores} cores (target >= 95%)")
    print(f"load average at the end: {load:.2f} (other work on the machine skews wall times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
