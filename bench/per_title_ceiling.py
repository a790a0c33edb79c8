"""Benchmark: the real ceiling of any per-title ladder against the fixed ladder, at equal VMAF.

For each title of the set (bench/title_set.py) the whole title is encoded for real, the ingest's way
(encode.build_chunk_args: veryfast, High profile, a keyframe every segment, closed GOPs), at every
candidate size (the fixed ladder's sizes: per-title never upscales) x a CRF sweep, and also at the
fixed ladder's own rungs (capped CRF 23). Every encode is measured like a published rung
(quality.score_rungs on the source, the ingest's sampling; bitrate from the encoded file). The upper
hull of all sweep points is the title's true convex hull: no ladder of these encodes can do better.
*Ceiling* = bits that hull saves against the fixed ladder's rungs at equal VMAF, with the same
BD-rate code as bench/per_title.py (`bits_saved`), over the fixed ladder's VMAF range.
*Rules on the true hull* = what per-title's rung choice (convex_hull.pick_rungs, default rules) saves
when fed the real whole-title points instead of the analysis' window predictions: the share of the
ceiling its rules can take, apart from any prediction error.

    .venv/bin/python bench/per_title_ceiling.py [--crfs 18-40/2] [--titles talking_head,...] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from per_title import bits_saved
from title_set import DEFAULT_SECONDS, TITLES, each_title

from server import config
from server.media import ffmpeg
from server.media.chunks import total_frames
from server.media.convex_hull import RatePoint, Rules, pick_rungs, upper_hull
from server.media.encode import build_chunk_args, part_path
from server.media.ladder import plan_ladder
from server.media.model import Chunk, MediaInfo, Rendition, WorkLayout
from server.media.per_title import default_rules
from server.media.probe import probe
from server.media.quality import effective_every, score_rungs
from server.portable import children_cpu_s

UNCAPPED_KBPS = 200_000  # a -maxrate no sweep encode reaches: pure CRF


def parse_crfs(text: str) -> list[int]:
    """"18-40/2" → 18, 20, …, 40."""
    span, _, step = text.partition("/")
    low, _, high = span.partition("-")
    return list(range(int(low), int(high or low) + 1, int(step or 1)))


def sweep(rungs: list[Rendition], crfs: list[int]) -> list[Rendition]:
    """Every candidate size at every CRF, uncapped."""
    return [Rendition(f"{r.name}_crf{crf}", r.width, r.height, UNCAPPED_KBPS, 2 * UNCAPPED_KBPS, crf)
            for r in rungs for crf in crfs]


def encode_and_measure(info: MediaInfo, renditions: list[Rendition], work: Path) -> list[RatePoint]:
    """One ffmpeg encoding the whole title into `renditions`, then one measuring pass over them."""
    assert info.video is not None
    tools, segment = ffmpeg.find_tools(), float(config.get("segment_seconds"))
    frames = total_frames(info.duration, info.video.fps)
    layout = WorkLayout(work)
    for r in renditions:
        layout.chunk_file(r.name, 0).parent.mkdir(parents=True, exist_ok=True)
    ffmpeg.run(build_chunk_args(tools, info, Chunk(0, 0.0, info.duration, frames), renditions, layout,
                                segment), "encoding the ceiling sweep")
    files = [part_path(layout.chunk_file(r.name, 0)) for r in renditions]
    every = effective_every(int(config.get("quality_sample_every")), frames)
    scores = score_rungs(tools.ffmpeg, ffmpeg.find_measuring_tool(), [str(f) for f in files], str(info.path),
                         info.video, frames, every)
    seconds = frames / float(info.video.fps)
    return [RatePoint(r.name, r.width, r.height, r.crf, round(f.stat().st_size * 8 / 1000 / seconds, 1),
                      round(statistics.fmean(s.vmaf for s in scored), 2))
            for r, f, scored in zip(renditions, files, scores, strict=True)]


def one_title(clip: Path, crfs: list[int], jobs: int) -> dict[str, Any]:
    info = probe(clip)
    assert info.video is not None
    fixed = plan_ladder(info.video)
    groups = [[r for r in sweep(fixed, crfs) if r.name.startswith(f"{size.name}_")] for size in fixed]
    before = children_cpu_s()
    with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as tmp, ThreadPoolExecutor(jobs) as pool:
        runs = [pool.submit(encode_and_measure, info, group, Path(tmp) / f"g{i}")
                for i, group in enumerate([fixed, *groups])]
        measured = [run.result() for run in runs]
    fixed_points, points = measured[0], [p for group in measured[1:] for p in group]
    hull = upper_hull(points)
    return {"title": clip.name, "ceiling_pct": bits_saved(fixed_points, hull),
            "rules_on_hull_pct": rules_on_hull(fixed_points, points),
            "fixed": [(p.name, p.kbps, p.vmaf) for p in fixed_points],
            "hull": [(p.name, p.kbps, p.vmaf) for p in hull], "points": [p.to_dict() for p in points],
            "cpu_s": round(children_cpu_s() - before, 1)}


def rules_on_hull(fixed: list[RatePoint], points: list[RatePoint], rules: Rules | None = None) -> float:
    """Bits saved by the rungs pick_rungs takes from the real points (sizes named as the analysis
    names them); the ingest's rules unless `rules`."""
    return bits_saved(fixed, rungs_on_hull(points, rules))


def rungs_on_hull(points: list[RatePoint], rules: Rules | None = None) -> list[RatePoint]:
    """The rungs pick_rungs takes from the real sweep points."""
    named = [RatePoint(p.name.split("_crf")[0], p.width, p.height, p.crf, p.kbps, p.vmaf) for p in points]
    return pick_rungs(named, rules or default_rules())


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of an earlier run (--out), the rules' figure recomputed with today's code."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        fixed = [RatePoint(n, 0, 0, 0, k, v) for n, k, v in row["fixed"]]
        row["rules_on_hull_pct"] = rules_on_hull(fixed, [RatePoint(**p) for p in row["points"]])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crfs", default="18-40/2", help="CRF sweep, low-high/step")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    parser.add_argument("--titles", default=",".join(TITLES))
    parser.add_argument("--jobs", type=int, default=2, help="sizes encoded and measured in parallel")
    parser.add_argument("--out", type=Path, help="append every row as a JSON line")
    parser.add_argument("--rows", type=Path, help="tabulate an earlier run's --out instead of running")
    args = parser.parse_args()
    crfs = parse_crfs(args.crfs)
    rows = read_rows(args.rows) if args.rows else each_title(
        args.titles.split(","), args.seconds, lambda clip: one_title(clip, crfs, args.jobs), args.out,
        "points")
    print("\n| title | ceiling: bits saved at equal VMAF % | per-title's rules on the true hull % "
          "| true hull (kbit/s @ VMAF) | CPU-s |")
    print("|---|---|---|---|---|")
    for r in rows:
        hull = ", ".join(f"{n} {k:.0f}@{v:.1f}" for n, k, v in r["hull"])
        print(f"| {r['title']} | {r['ceiling_pct']} | {r['rules_on_hull_pct']} | {hull} | {r['cpu_s']} |")
    print(f"\nmean ceiling: {statistics.fmean(r['ceiling_pct'] for r in rows):.1f}%; per-title's rules on "
          f"the true hull: {statistics.fmean(r['rules_on_hull_pct'] for r in rows):.1f}%")


if __name__ == "__main__":
    main()
