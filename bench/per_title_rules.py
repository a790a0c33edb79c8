"""Benchmark: per-title's rung choice fed each title's true points, without encoding anything.

Reads the rows of bench/per_title_ceiling.py (`--out`: every title's whole-title CRF sweep at every
size, measured like a published rung, and the fixed ladder's rungs measured the same way) and, per
title, runs convex_hull.pick_rungs on the real points under several rule sets: the bits each ladder
saves against the fixed one at equal VMAF (bench/per_title.py's `bits_saved`), next to the ceiling
(the whole true hull against the fixed ladder). The gap between a rule set and the ceiling is the
rules' own loss, apart from any prediction error of the analysis.

    .venv/bin/python bench/per_title_rules.py --ceiling ceiling.jsonl [--analysis sampling.jsonl]

With `--analysis` (bench/per_title_sampling.py's --out: the analysis' own points, from its sample
windows) the rungs are picked from the analysis' points, as the ingest picks them, and each rung (its
size at its whole CRF, as the ingest encodes it) is read off the title's true sweep (log(bitrate) and
VMAF linear in CRF between the sweep's CRFs): what the per-title ingest would publish, without the
-maxrate cap, against the fixed ladder; prediction error and rules together.

Rule sets: `now` (the ingest's: the floor at 200 kbit/s or what VMAF 60 costs if less, not under 25;
rungs where the hull bends, 1.5x apart in bitrate at least),
`before` (floor 200 kbit/s, rungs a JND apart: the rules before session 8), and the two changes
alone, plus floor and placement variants.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from per_title import bits_saved
from per_title_ceiling import rungs_on_hull

from server.media.convex_hull import RatePoint, Rules, pick_rungs
from server.media.per_title import default_rules

BEFORE = Rules(floor_vmaf=0.0, floor_share=0.0, min_floor_kbps=0.0, placement="jnd", min_step=1.0)


def rule_sets() -> dict[str, Rules]:
    now = default_rules()
    return {"now": now, "before": BEFORE,
            "floor by VMAF, JND apart": replace(now, placement="jnd"),
            "floor 200, bends": replace(now, floor_vmaf=0.0),
            "floor VMAF 50": replace(now, floor_vmaf=50.0),
            "floor VMAF 70": replace(now, floor_vmaf=70.0),
            "no 25 kbit/s minimum": replace(now, min_floor_kbps=0.0),
            "40 kbit/s minimum": replace(now, min_floor_kbps=40.0),
            "floor 0.1 of the top": replace(now, floor_vmaf=0.0, floor_share=0.1),
            "floor 0.25 of the top": replace(now, floor_vmaf=0.0, floor_share=0.25),
            "bends, min gap 2": replace(now, min_gap=2.0),
            "bends, min gap 4.5": replace(now, min_gap=4.5),
            "rungs 1.3x apart": replace(now, min_step=1.3),
            "rungs 2x apart": replace(now, min_step=2.0),
            "no bitrate step": replace(now, min_step=1.0),
            "bends, up to 6 rungs": replace(now, jnd=0.1, min_step=1.0)}


def read_rows(path: Path) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["title"]] = row      # a title measured twice: the later row
    return list(rows.values())


def evaluate(row: dict[str, Any], rules: Rules) -> tuple[float, list[RatePoint]]:
    fixed = [RatePoint(n, 0, 0, 0, k, v) for n, k, v in row["fixed"]]
    rungs = rungs_on_hull([RatePoint(**p) for p in row["points"]], rules)
    return bits_saved(fixed, rungs), rungs


def on_sweep(rung: RatePoint, sweep: list[RatePoint]) -> RatePoint:
    """`rung` (a size at a CRF) as the true sweep measured it: its size's points, log(kbit/s) and
    VMAF linear in CRF between the two nearest CRFs (clamped to the sweep's ends)."""
    crf = round(rung.crf)
    curve = sorted((p for p in sweep if p.name.split("_crf")[0] == rung.name), key=lambda p: p.crf)
    low = max((p for p in curve if p.crf <= crf), key=lambda p: p.crf, default=curve[0])
    high = min((p for p in curve if p.crf >= crf), key=lambda p: p.crf, default=curve[-1])
    share = 0.0 if high.crf == low.crf else (crf - low.crf) / (high.crf - low.crf)
    kbps = math.exp(math.log(low.kbps) + share * (math.log(high.kbps) - math.log(low.kbps)))
    return RatePoint(rung.name, rung.width, rung.height, crf, round(kbps, 1),
                     round(low.vmaf + share * (high.vmaf - low.vmaf), 2))


def analysis_rows(ceiling: list[dict[str, Any]], path: Path, rules: Rules) -> None:
    """Per title: the rungs picked from the analysis' points, read off the true sweep."""
    analysed = {row["title"]: row for row in read_rows(path)}
    print("\n| title | ceiling % | rules on the true hull % | analysis + rules, rungs read off the true "
          "sweep % | rungs (predicted -> true kbit/s @ VMAF) |\n|---|---|---|---|---|")
    saved = []
    for row in ceiling:
        if row["title"] not in analysed:
            continue
        fixed = [RatePoint(n, 0, 0, 0, k, v) for n, k, v in row["fixed"]]
        sweep = [RatePoint(**p) for p in row["points"]]
        chosen = pick_rungs([RatePoint(**p) for p in analysed[row["title"]]["points"]], rules)
        true = [on_sweep(p, sweep) for p in chosen]
        saved.append(bits_saved(fixed, true))
        rungs = ", ".join(f"{p.name} CRF {t.crf:g} {p.kbps:.0f}@{p.vmaf:.1f} -> {t.kbps:.0f}@{t.vmaf:.1f}"
                          for p, t in zip(chosen, true, strict=True))
        on_hull = evaluate(row, rules)[0]
        print(f"| {row['title']} | {row['ceiling_pct']} | {on_hull} | {saved[-1]} | {rungs} |")
    if saved:
        print(f"\nanalysis + rules: mean {statistics.fmean(saved):.1f}%, worst {min(saved):.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ceiling", type=Path, required=True, help="bench/per_title_ceiling.py's --out")
    parser.add_argument("--analysis", type=Path, help="bench/per_title_sampling.py's --out")
    args = parser.parse_args()
    rows, sets = read_rows(args.ceiling), rule_sets()
    results = {name: [evaluate(row, rules) for row in rows] for name, rules in sets.items()}
    print("| title | ceiling % | " + " | ".join(f"{name} %" for name in sets) + " |")
    print("|---|---|" + "---|" * len(sets))
    for i, row in enumerate(rows):
        print(f"| {row['title']} | {row['ceiling_pct']} | "
              + " | ".join(f"{results[name][i][0]}" for name in sets) + " |")
    ceilings = [row["ceiling_pct"] for row in rows]
    print(f"| mean | {statistics.fmean(ceilings):.1f} | "
          + " | ".join(f"{statistics.fmean(r[0] for r in results[name]):.1f}" for name in sets) + " |")
    print("| worst | " + f"{min(ceilings):.1f} | "
          + " | ".join(f"{min(r[0] for r in results[name]):.1f}" for name in sets) + " |")
    print("| median share of the ceiling | 1 | " + " | ".join(
        f"{statistics.median(r[0] / c for r, c in zip(results[name], ceilings, strict=True) if c > 0):.2f}"
        for name in sets) + " |")
    print("\nRungs (kbit/s @ VMAF):")
    for i, row in enumerate(rows):
        print(f"- {row['title']}: fixed " + ", ".join(f"{n} {k:.0f}@{v:.1f}" for n, k, v in row["fixed"]))
        for name in ("now", "before"):
            rungs = results[name][i][1]
            print(f"  - {name}: "
                  + ", ".join(f"{p.name} CRF {p.crf:g} {p.kbps:.0f}@{p.vmaf:.1f}" for p in rungs))
    if args.analysis:
        analysis_rows(rows, args.analysis, sets["now"])


if __name__ == "__main__":
    main()
