"""Benchmark: where the per-title analysis' CPU goes — cutting the windows, encoding each candidate
size (every CRF of it), scoring each size's encodes — against one ffmpeg encoding the fixed ladder.

The analysis' own steps (server/media/per_title.py), but one ffmpeg per size for the encodes and one
measuring ffmpeg per size for the scoring, so each size's share is its own CPU-s (the analysis runs
one of each per window for every size: its total is close to the sum here, less one decode of the
window per extra process). Per title, CPU-s: cut; encode per size; score per size; the whole; and
the whole over the fixed ladder's encode (bench/per_title.py's `fixed_encode_cpu`); then the
analysis itself (per_title.analyse, one worker) and its CPU-s over that encode, with the title length
at which it would cost a quarter of it (the analysis stays, the encode grows with the title).

    .venv/bin/python bench/per_title_cost.py [--seconds 20] [--titles bbb_720p_aac_5.1.mp4,sport,...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from per_title import fixed_encode_cpu
from title_set import DEFAULT_SECONDS, TITLES, each_title

from server.media import ffmpeg
from server.media.ladder import plan_ladder
from server.media.per_title import (
    CRFS,
    analyse,
    build_probe_encode_args,
    build_window_args,
    sample_windows,
    score_vmaf,
    window_frames,
    window_video,
)
from server.media.probe import probe, with_keyframes
from server.portable import children_cpu_s


def one_title(clip: Path) -> dict[str, Any]:
    info = with_keyframes(probe(clip))  # windows cut as the ingest cuts them (TS, MXF: source_cut.py)
    assert info.video is not None
    video, rungs = info.video, plan_ladder(info.video)
    main, tool = ffmpeg.find_tools().ffmpeg, ffmpeg.find_measuring_tool()
    cpu: dict[str, float] = {"cut": 0.0}
    frames_scored: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        windows = sample_windows(info.duration)
        for i, (start, seconds) in enumerate(windows):
            cut = Path(tmp) / f"window{i}.mkv"
            before = children_cpu_s()
            ffmpeg.run(build_window_args(main, info, start, seconds, cut), "cutting a window")
            cpu["cut"] += children_cpu_s() - before
            frames = window_frames(seconds, video.fps)
            for r in rungs:
                outs = [cut.with_name(f"{cut.stem}_{r.name}_crf{crf}.h264") for crf in CRFS]
                before = children_cpu_s()
                ffmpeg.run(build_probe_encode_args(main, cut, [(r.width, r.height)], CRFS, "veryfast", outs),
                           "encoding a window")
                middle = children_cpu_s()
                scores = score_vmaf(main, tool, outs, cut, window_video(video), frames, None, window_index=i,
                                    windows=len(windows))
                after = children_cpu_s()
                cpu[f"encode {r.name}"] = cpu.get(f"encode {r.name}", 0.0) + middle - before
                cpu[f"score {r.name}"] = cpu.get(f"score {r.name}", 0.0) + after - middle
                frames_scored[r.name] = frames_scored.get(r.name, 0) + sum(len(s) for s in scores)
    encode = fixed_encode_cpu(clip)
    total = sum(cpu.values())
    analysis = analyse(info, workers=1)
    return {"title": clip.name, "duration_s": round(info.duration, 2), "windows": len(analysis.windows),
            "cpu_s": {k: round(v, 2) for k, v in cpu.items()}, "frames_scored": frames_scored,
            "total_cpu_s": round(total, 2), "fixed_encode_cpu_s": round(encode, 2),
            "ratio": round(total / encode, 2), "analysis_cpu_s": round(analysis.cpu_seconds, 2),
            "analysis_ratio": round(analysis.cpu_seconds / encode, 3),
            "quarter_at_s": round(analysis.cpu_seconds / (0.25 * encode / info.duration))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    parser.add_argument("--titles", default=",".join(TITLES))
    parser.add_argument("--out", type=Path, help="append every row as a JSON line")
    args = parser.parse_args()
    rows = each_title(args.titles.split(","), args.seconds, one_title, args.out, "")
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
