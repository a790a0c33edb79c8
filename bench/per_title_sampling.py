"""Benchmark: the per-title analysis' sampled VMAF against full-frame VMAF of the same window encodes.

For each title of the set (bench/title_set.py) the analysis' own steps run for real: its sample
windows are cut, each is encoded at every candidate size x CRF (per_title.build_probe_encode_args),
and every encode is scored twice: as the analysis scores it (per_title.score_vmaf: the sampled
frames) and at every frame. Per title: the largest and the mean |sampled - full| over the points
(one point per size x CRF, VMAF averaged over the windows, as the hull reads it), and the CPU-s of
each scoring; the analysis' points (sampled scoring, as the analysis makes them; read by
bench/per_title_rules.py --analysis); the analysis' whole CPU-s (cutting, encoding and the analysis'
own scoring, against scoring every frame) over the CPU-s of one ffmpeg encoding the title's fixed
ladder (bench/per_title.py's `fixed_encode_cpu`). Target (issue 19): within 1 VMAF point per point; the
analysis <= 25% of the ladder's encode.

    .venv/bin/python bench/per_title_sampling.py [--seconds 20] [--titles talking_head,sport,...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from per_title import fixed_encode_cpu
from title_set import DEFAULT_SECONDS, TITLES, each_title

from server import config
from server.media import ffmpeg
from server.media.ladder import plan_ladder
from server.media.per_title import (
    CRFS,
    _Measured,
    _points,
    analysis_every,
    build_probe_encode_args,
    build_window_args,
    sample_windows,
    score_vmaf,
    title_bits,
    window_frames,
    window_video,
)
from server.media.probe import probe, with_keyframes
from server.media.quality import FrameScore, scored_frames
from server.portable import children_cpu_s

Scores = dict[tuple[str, int], list[FrameScore]]  # (size, CRF) -> scored frames of every window


def scored(main: str, tool: str, encodes: list[Path], cut: Path, video: Any, frames: int,
           full: bool, index: int, windows: int) -> tuple[list[list[FrameScore]], float]:
    """Score the encodes of window `index` (of `windows`) as the analysis does, or at every frame;
    with the CPU-s it took."""
    before = children_cpu_s()
    scores = score_vmaf(main, tool, encodes, cut, video, frames, None, 1 if full else None,
                        window_index=index, windows=windows)
    return scores, children_cpu_s() - before


def one_title(clip: Path) -> dict[str, Any]:
    info = with_keyframes(probe(clip))  # windows cut as the ingest cuts them (TS, MXF: source_cut.py)
    assert info.video is not None
    video, rungs = info.video, plan_ladder(info.video)
    main, tool = ffmpeg.find_tools().ffmpeg, ffmpeg.find_measuring_tool()
    sampled: Scores = {}
    full: Scores = {}
    cpu = {"sampled": 0.0, "full": 0.0, "cut_encode": 0.0}
    measured: list[_Measured] = []
    with tempfile.TemporaryDirectory(prefix="bench-sampling-") as tmp:
        windows = sample_windows(info.duration)
        for i, (start, seconds) in enumerate(windows):
            cut = Path(tmp) / f"window{i}.mkv"
            before = children_cpu_s()
            ffmpeg.run(build_window_args(main, info, start, seconds, cut), "cutting a window")
            pairs = [(r, crf) for r in rungs for crf in CRFS]
            outs = [cut.with_name(f"{cut.stem}_{r.name}_crf{crf}.h264") for r, crf in pairs]
            ffmpeg.run(build_probe_encode_args(main, cut, [(r.width, r.height) for r in rungs], CRFS,
                                               "veryfast", outs), "encoding a window")
            cpu["cut_encode"] += children_cpu_s() - before
            frames = window_frames(seconds, video.fps)
            keyframes = seconds / float(config.get("segment_seconds"))
            for kind, into in (("sampled", sampled), ("full", full)):
                scores, spent = scored(main, tool, outs, cut, window_video(video), frames, kind == "full", i,
                                       len(windows))
                cpu[kind] += spent
                for (r, crf), s, out in zip(pairs, scores, outs, strict=True):
                    into.setdefault((r.name, crf), []).extend(s)
                    if kind == "sampled":
                        measured.append(_Measured(r, crf, title_bits(out.read_bytes(), frames, keyframes),
                                                  frames / float(video.fps), s))
    encode = fixed_encode_cpu(clip)
    errors = {f"{name} crf{crf}": round(statistics.fmean(s.vmaf for s in sampled[name, crf])
                                        - statistics.fmean(s.vmaf for s in full[name, crf]), 2)
              for name, crf in full}
    return {"title": clip.name, "max_abs_error": max(abs(e) for e in errors.values()),
            "mean_abs_error": round(statistics.fmean(abs(e) for e in errors.values()), 2),
            "mean_error": round(statistics.fmean(errors.values()), 2),
            "sampled_frames": sum(len(s) for s in sampled.values()),
            "full_frames": sum(len(s) for s in full.values()),
            "sampled_cpu_s": round(cpu["sampled"], 1), "full_cpu_s": round(cpu["full"], 1),
            "cut_encode_cpu_s": round(cpu["cut_encode"], 1), "fixed_encode_cpu_s": round(encode, 2),
            "analysis_ratio": round((cpu["cut_encode"] + cpu["sampled"]) / encode, 2),
            "every_frame_ratio": round((cpu["cut_encode"] + cpu["full"]) / encode, 2),
            "quarter_at_s": round((cpu["cut_encode"] + cpu["sampled"]) / (0.25 * encode / info.duration)),
            "points": [p.to_dict() for p in _points(measured)],   # the analysis' points, as it makes them
            "errors": errors, "full_by_frame": {f"{k[0]} crf{k[1]}": [(s.n, round(s.vmaf, 2)) for s in v]
                                                for k, v in full.items()}}


def resampled(row: dict[str, Any]) -> dict[str, Any]:
    """An earlier run's row (--out) with its sampling error recomputed from its full-frame scores for
    today's analysis_every: a sampled frame's score is its full-frame score (quality.py scores
    whole triples), so the sampled mean is the mean of the frames today's sampling would score."""
    errors = {}
    scored_count = 0
    for point, frames in row["full_by_frame"].items():
        windows: list[dict[int, float]] = []
        for n, vmaf in frames:
            if n == 0 or not windows:
                windows.append({})
            windows[-1][n] = vmaf
        picked = []
        for index, window in enumerate(windows):
            every = analysis_every(len(window), index, len(windows))
            picked += [window[f] for f in scored_frames(len(window), every) if f in window]
        scored_count += len(picked)
        full = statistics.fmean(v for w in windows for v in w.values())
        errors[point] = round(statistics.fmean(picked) - full, 2)
    return {**row, "max_abs_error": max(abs(e) for e in errors.values()),
            "mean_abs_error": round(statistics.fmean(abs(e) for e in errors.values()), 2),
            "mean_error": round(statistics.fmean(errors.values()), 2), "sampled_frames": scored_count,
            "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    parser.add_argument("--titles", default=",".join(TITLES))
    parser.add_argument("--out", type=Path, help="write every row (with per-frame full scores) as JSON lines")
    parser.add_argument("--rows", type=Path, help="an earlier run's --out: its errors recomputed for today's "
                        "sampling (the CPU columns stay the run's)")
    args = parser.parse_args()
    if args.rows:
        latest = {}
        for line in args.rows.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                latest[row["title"]] = resampled(row)
        rows = list(latest.values())
    else:
        rows = each_title(args.titles.split(","), args.seconds, one_title, args.out, "full_by_frame")
    print("\n| title | max abs error | mean abs error | mean signed error | scored frames (sampled / full) "
          "| scoring CPU-s (sampled / full) | cut + encode CPU-s | fixed ladder encode CPU-s "
          "| analysis / encode (CPU; every frame) | length for <= 0.25 s |\n" + "|---" * 10 + "|")
    for r in rows:
        print(f"| {r['title']} | {r['max_abs_error']} | {r['mean_abs_error']} | {r['mean_error']} | "
              f"{r['sampled_frames']} / {r['full_frames']} | {r['sampled_cpu_s']} / {r['full_cpu_s']} | "
              f"{r['cut_encode_cpu_s']} | {r['fixed_encode_cpu_s']} | {r['analysis_ratio']} "
              f"({r['every_frame_ratio']}) | {r['quarter_at_s']} |")


if __name__ == "__main__":
    main()
