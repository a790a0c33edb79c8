"""Benchmark: the per-title ladder against the fixed ladder, at equal VMAF.

Each title of the test set (bench/title_set.py: generated static, screen, animated, noisy and
grainy clips, and the real files in ../shared/media) is ingested twice per run, `--ladder fixed` and
`--ladder per-title`, with quality measuring on: every published rung's bitrate (from its segments)
and VMAF (against the source, the standard way) come from the real encode. Per title:
- the ladder's total bits (every rung's kbit/s, summed);
- a BD-rate-style comparison: the upper hull of each ladder's (kbit/s, VMAF) rungs, log(bitrate)
  read linearly between rungs, averaged over the VMAF range both ladders cover: the % of bits the
  per-title ladder saves at equal quality (negative: it costs more). A ladder of one rung, or two
  that do not overlap, is compared at the per-title top rung's quality (the fixed hull read there);
- a ceiling: the same comparison against the analysis' whole hull (every resolution x CRF it
  measured on its sample windows, as if the ladder had a rung at every hull point): what no rung
  choice from that hull can beat, at this encoder and preset;
- the analysis time (wall, and its ffmpeg runs' CPU-s) as a ratio of the per-title ingest's encode
  stage (wall), and its CPU-s as a ratio of one ffmpeg encoding the fixed ladder (CPU-s), with the
  title length at which the analysis would cost a quarter of that encode (it stays, the encode grows).
`--runs` runs, the load average before each; the table gives the median and the spread.

    .venv/bin/python bench/per_title.py [--runs 3] [--seconds 20] [--titles talking_head,sport,...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from title_set import DEFAULT_SECONDS, GENERATED, SHARED, TITLES, make_clip, title_clip

from server.media.convex_hull import RatePoint, upper_hull
from server.media.ladder import plan_ladder
from server.media.probe import probe
from server.portable import children_cpu_s

__all__ = ["GENERATED", "SHARED", "bits_saved", "make_clip", "rung_points"]  # bench/codec_ladder.py's

ROOT = Path(__file__).resolve().parents[1]


def ingest(clip: Path, data: Path, ladder: str) -> dict[str, Any]:
    """One `main.py ingest --json` with quality measured; its result plus the integrity report."""
    run = subprocess.run([sys.executable, str(ROOT / "main.py"), "ingest", str(clip), "--data-dir",
                          str(data), "--json", "--ladder", ladder], capture_output=True, text=True,
                         env={**os.environ, "MINIFLIX_QUALITY_MEASURE": "on"}, check=False)
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    if result["status"] != "published":
        raise SystemExit(f"{clip.name} ({ladder}): {result['error']}\n{run.stderr[-2000:]}")
    result["report"] = json.loads((data / "origin" / result["integrity"]).read_text())
    return result


def rung_points(result: dict[str, Any]) -> list[RatePoint]:
    return [RatePoint(r["name"], r["width"], r["height"], 0, r["quality"]["bitrate_kbps"],
                      r["quality"]["vmaf_mean"]) for r in result["renditions"]]


def log_kbps_at(hull: list[RatePoint], vmaf: float) -> float:
    """log(kbit/s) of a ladder's hull at `vmaf`, linear between rungs (clamped at the ends)."""
    if vmaf <= hull[0].vmaf:
        return math.log(hull[0].kbps)
    for a, b in itertools.pairwise(hull):
        if vmaf <= b.vmaf:
            share = (vmaf - a.vmaf) / (b.vmaf - a.vmaf)
            return math.log(a.kbps) + share * (math.log(b.kbps) - math.log(a.kbps))
    return math.log(hull[-1].kbps)


def bits_saved(fixed: list[RatePoint], per_title: list[RatePoint]) -> float:
    """% of bits the per-title ladder saves at equal VMAF (BD-rate-style, see the module doc)."""
    a, b = upper_hull(fixed), upper_hull(per_title)
    lo, hi = max(a[0].vmaf, b[0].vmaf), min(a[-1].vmaf, b[-1].vmaf)
    qualities = [lo + (hi - lo) * i / 49 for i in range(50)] if hi > lo else [b[-1].vmaf]
    diff = statistics.fmean(log_kbps_at(b, q) - log_kbps_at(a, q) for q in qualities)
    return round(100 * (1 - math.exp(diff)), 1)


def encode_wall(result: dict[str, Any]) -> float:
    timing = result["timing"]
    return float(timing["encode_ended_at"] - timing["encode_started_at"])


def fixed_encode_cpu(clip: Path) -> float:
    """CPU-s of one ffmpeg encoding the title's fixed ladder (veryfast, capped CRF 23, -threads 1):
    the yardstick for the analysis' CPU (wall times mean little on a loaded machine)."""
    info = probe(clip)
    assert info.video is not None
    rungs = plan_ladder(info.video)
    labels = "".join(f"[r{i}]" for i in range(len(rungs)))
    graph = [f"[0:{info.video.index}]format=yuv420p,split={len(rungs)}{labels}",
             *(f"[r{i}]scale={r.width}:{r.height}[o{i}]" for i, r in enumerate(rungs))]
    args = ["ffmpeg", "-v", "error", "-threads", "1", "-i", str(clip), "-filter_complex", ";".join(graph)]
    for i, r in enumerate(rungs):
        args += ["-map", f"[o{i}]", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(r.crf), "-maxrate",
                 f"{r.bitrate_kbps}k", "-bufsize", f"{r.bufsize_kbps}k", "-threads", "1", "-f", "null", "-"]
    before = children_cpu_s()
    subprocess.run(args, check=True)
    return children_cpu_s() - before


def one_title(clip: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-per-title-") as tmp:
        fixed = ingest(clip, Path(tmp) / "fixed", "fixed")
        per = ingest(clip, Path(tmp) / "per", "per-title")
    analysis = per["report"]["per_title"]
    encode_cpu = fixed_encode_cpu(clip)
    per_second = encode_cpu / probe(clip).duration
    return {"title": clip.name, "fixed": [(p.name, p.kbps, p.vmaf) for p in rung_points(fixed)],
            "per_title": [(p.name, p.kbps, p.vmaf) for p in rung_points(per)],
            "fixed_kbps": round(sum(p.kbps for p in rung_points(fixed)), 1),
            "per_title_kbps": round(sum(p.kbps for p in rung_points(per)), 1),
            "saved_pct": bits_saved(rung_points(fixed), rung_points(per)),
            "hull_saved_pct": bits_saved(rung_points(fixed), [RatePoint(**p) for p in analysis["hull"]]),
            "analysis_s": analysis["seconds"], "analysis_cpu_s": analysis.get("cpu_seconds", 0.0),
            "encode_s": round(encode_wall(per), 2),
            "analysis_ratio": round(analysis["seconds"] / encode_wall(per), 2),
            "fixed_encode_cpu_s": round(encode_cpu, 2),
            "cpu_ratio": round(analysis.get("cpu_seconds", 0.0) / encode_cpu, 2),
            "quarter_at_s": round(analysis.get("cpu_seconds", 0.0) / (0.25 * per_second))}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):g} ({min(values):g}-{max(values):g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help="length of the generated clips (the shared files are as they are)")
    parser.add_argument("--titles", default=",".join(TITLES))
    args = parser.parse_args()
    names = args.titles.split(",")
    clips = [title_clip(n, args.seconds) for n in names]
    runs: list[list[dict[str, Any]]] = []
    for run in range(args.runs):
        print(f"run {run + 1}: load average before {os.getloadavg()[0]:.2f}", flush=True)
        rows = []
        for c in clips:
            rows.append(one_title(c))
            print(json.dumps(rows[-1]), flush=True)
        runs.append(rows)
    print("\n| title | fixed ladder kbit/s (rungs) | per-title kbit/s (rungs) | bits saved at equal VMAF % "
          "| hull ceiling % | analysis s (CPU-s) | encode s | analysis / encode | fixed ladder encode CPU-s "
          "| analysis / encode (CPU) | length for <= 0.25 s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for i, clip in enumerate(clips):
        rows = [r[i] for r in runs]
        first = rows[0]
        print(f"| {clip.name} | {spread([r['fixed_kbps'] for r in rows])} ({len(first['fixed'])}) | "
              f"{spread([r['per_title_kbps'] for r in rows])} ({len(first['per_title'])}) | "
              f"{spread([r['saved_pct'] for r in rows])} | {spread([r['hull_saved_pct'] for r in rows])} | "
              f"{spread([r['analysis_s'] for r in rows])} "
              f"({spread([r['analysis_cpu_s'] for r in rows])}) | "
              f"{spread([r['encode_s'] for r in rows])} | {spread([r['analysis_ratio'] for r in rows])} | "
              f"{spread([r['fixed_encode_cpu_s'] for r in rows])} | "
              f"{spread([r['cpu_ratio'] for r in rows])} | "
              f"{spread([r['quarter_at_s'] for r in rows])} |")
    saved = [statistics.median(r[i]["saved_pct"] for r in runs) for i in range(len(clips))]
    print(f"\nmean bits saved at equal VMAF: {statistics.fmean(saved):.1f}%; worst title {min(saved):.1f}%")


if __name__ == "__main__":
    main()
