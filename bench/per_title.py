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
- the analysis' hull: the same comparison against the analysis' whole hull (every resolution x CRF
  it measured on its sample windows): window predictions against real encodes, so not a ceiling;
- with `--ceiling FILE` (the JSON lines of bench/per_title_ceiling.py): the real ceiling, the bits
  the title's true hull (whole-title encodes, a CRF sweep at every size) saves against the fixed
  ladder, and the per-title result as a fraction of it;
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


def read_ceilings(path: Path | None) -> dict[str, float]:
    """Title → its real ceiling % (bench/per_title_ceiling.py's rows), {} without a file."""
    if path is None:
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["title"]: float(r["ceiling_pct"]) for r in rows}


def ceiling_cells(ceiling: float | None, rows: list[dict[str, Any]]) -> str:
    """The ceiling and the per-title result's share of it (n/a where no ceiling was measured)."""
    if ceiling is None:
        return "n/a | n/a"
    saved = statistics.median(r["saved_pct"] for r in rows)
    share = f"{saved / ceiling:.2f}" if ceiling > 0 else "n/a (no room)"
    return f"{ceiling:g} | {share}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help="length of the generated clips (the shared files are as they are)")
    parser.add_argument("--titles", default=",".join(TITLES))
    parser.add_argument("--ceiling", type=Path, help="bench/per_title_ceiling.py's JSON lines (--out)")
    parser.add_argument("--rows", type=Path, nargs="+",
                        help="tabulate the JSON rows earlier runs printed (their logs) instead of running")
    args = parser.parse_args()
    names = args.titles.split(",")
    by_title = read_rows(args.rows) if args.rows else run_titles(names, args.seconds, args.runs)
    print_table(by_title, read_ceilings(args.ceiling))


def run_titles(names: list[str], seconds: float, runs: int) -> dict[str, list[dict[str, Any]]]:
    """Every title `runs` times, each row printed as it comes; title → its rows."""
    clips = [title_clip(n, seconds) for n in names]
    by_title: dict[str, list[dict[str, Any]]] = {c.name: [] for c in clips}
    for run in range(runs):
        print(f"run {run + 1}: load average before {os.getloadavg()[0]:.2f}", flush=True)
        for c in clips:
            by_title[c.name].append(one_title(c))
            print(json.dumps(by_title[c.name][-1]), flush=True)
    return by_title


def read_rows(paths: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """The rows (JSON lines) of earlier runs' output, title → its rows."""
    by_title: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                by_title.setdefault(row["title"], []).append(row)
    return by_title


def print_table(by_title: dict[str, list[dict[str, Any]]], ceilings: dict[str, float]) -> None:
    print("\n| title | fixed ladder kbit/s (rungs) | per-title kbit/s (rungs) | bits saved at equal VMAF % "
          "| real ceiling % | share of the ceiling | analysis hull % "
          "| analysis s (CPU-s) | encode s | analysis / encode | fixed ladder encode CPU-s "
          "| analysis / encode (CPU) | length for <= 0.25 s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for title, rows in by_title.items():
        first = rows[0]
        print(f"| {title} | {spread([r['fixed_kbps'] for r in rows])} ({len(first['fixed'])}) | "
              f"{spread([r['per_title_kbps'] for r in rows])} ({len(first['per_title'])}) | "
              f"{spread([r['saved_pct'] for r in rows])} | {ceiling_cells(ceilings.get(title), rows)} | "
              f"{spread([r['hull_saved_pct'] for r in rows])} | "
              f"{spread([r['analysis_s'] for r in rows])} "
              f"({spread([r['analysis_cpu_s'] for r in rows])}) | "
              f"{spread([r['encode_s'] for r in rows])} | {spread([r['analysis_ratio'] for r in rows])} | "
              f"{spread([r['fixed_encode_cpu_s'] for r in rows])} | "
              f"{spread([r['cpu_ratio'] for r in rows])} | "
              f"{spread([r['quarter_at_s'] for r in rows])} |")
    for title, rows in by_title.items():
        print(f"- {title}: fixed " + ", ".join(f"{n} {k:.0f}@{v:.1f}" for n, k, v in rows[0]["fixed"])
              + "; per-title " + ", ".join(f"{n} {k:.0f}@{v:.1f}" for n, k, v in rows[0]["per_title"]))
    saved = [statistics.median(r["saved_pct"] for r in rows) for rows in by_title.values()]
    print(f"\nmean bits saved at equal VMAF: {statistics.fmean(saved):.1f}%; worst title {min(saved):.1f}%")
    shares = [statistics.median(r["saved_pct"] for r in rows) / ceilings[t] for t, rows in by_title.items()
              if ceilings.get(t, 0) > 0]
    if ceilings:
        mean_ceiling = statistics.fmean(ceilings[t] for t in by_title if t in ceilings)
        print(f"mean real ceiling: {mean_ceiling:.1f}%; per-title's mean saving / mean ceiling: "
              f"{statistics.fmean(saved) / mean_ceiling:.2f}")
    if shares:
        print(f"median share of each title's ceiling: {statistics.median(shares):.2f}")


if __name__ == "__main__":
    main()
