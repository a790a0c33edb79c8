"""Benchmark: the per-title analysis under other budgets (windows x seconds, frames scored), each
variant's rungs read off the titles' true sweeps, with its CPU.

For each title of bench/per_title_ceiling.py's rows (`--ceiling`), per_title.analyse runs for real
with the variant's windows and sampling; the rungs it picks are read off the title's true sweep at
their whole CRF (bench/per_title_rules.py's `on_sweep`: what the ingest would publish, without the
-maxrate cap) and compared with the fixed ladder (bits saved at equal VMAF, bench/per_title.py's
`bits_saved`). The analysis' CPU-s over one ffmpeg encoding the fixed ladder (measured once per title).

    .venv/bin/python bench/per_title_budget.py --ceiling ceiling.jsonl --variants now,2x1s/3 [--out FILE]

A variant is `now` (the analysis as the ingest runs it) or `<windows>x<seconds>s/<every>`: that many
windows of that length, one frame in `every` scored (under 4: libvmaf's own subsampling of every
frame; 4 and up: quality.py's triples). The rows in bench/rows/session9/budget_now_vs_2x1s.jsonl were
made before a title under 30 s got two windows: their `now` is 4 x 1 s, one in 4 / one in 6.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from per_title import bits_saved, fixed_encode_cpu
from per_title_rules import on_sweep, read_rows
from title_set import title_clip

from server.media import per_title
from server.media.convex_hull import RatePoint
from server.media.probe import probe

SAMPLE_WINDOWS, ANALYSIS_EVERY = per_title.sample_windows, per_title.analysis_every


def variant(name: str) -> tuple[Callable[..., Any], Callable[[int, int], int]]:
    """(sample_windows, analysis_every) of a variant."""
    if name == "now":
        return SAMPLE_WINDOWS, ANALYSIS_EVERY
    windows, rest = name.split("x")
    seconds, every = rest.split("s/")
    return ((lambda duration: SAMPLE_WINDOWS(duration, int(windows), float(seconds))),
            (lambda frames, window=0: int(every)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ceiling", type=Path, required=True)
    parser.add_argument("--variants", default="now")
    parser.add_argument("--titles", help="comma-separated title file names (default: every ceiling row)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = read_rows(args.ceiling)
    if args.titles:
        rows = [r for r in rows if r["title"] in args.titles.split(",")]
    original = SAMPLE_WINDOWS, ANALYSIS_EVERY
    results: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        name = row["title"]
        stem = name.removeprefix("title_").rsplit("_", 1)[0] if name.startswith("title_") else name
        clip = title_clip(stem)
        info = probe(clip)
        encode = fixed_encode_cpu(clip)
        fixed = [RatePoint(n, 0, 0, 0, k, v) for n, k, v in row["fixed"]]
        sweep = [RatePoint(**p) for p in row["points"]]
        for v in args.variants.split(","):
            per_title.sample_windows, per_title.analysis_every = variant(v)  # type: ignore[assignment]
            try:
                analysis = per_title.analyse(info, workers=1)
            finally:
                per_title.sample_windows, per_title.analysis_every = original
            true = [on_sweep(p, sweep) for p in analysis.chosen]
            out = {"title": name, "variant": v, "saved_pct": bits_saved(fixed, true),
                   "ceiling_pct": row["ceiling_pct"], "cpu_s": round(analysis.cpu_seconds, 2),
                   "fixed_encode_cpu_s": round(encode, 2),
                   "cpu_ratio": round(analysis.cpu_seconds / encode, 2),
                   "rungs": [f"{p.name} CRF {t.crf:g} {t.kbps:.0f}@{t.vmaf:.1f}"
                             for p, t in zip(analysis.chosen, true, strict=True)],
                   "points": [p.to_dict() for p in analysis.points]}
            results.setdefault(v, []).append(out)
            print(json.dumps({k: x for k, x in out.items() if k != "points"}), flush=True)
            if args.out:
                with args.out.open("a", encoding="utf-8") as lines:
                    lines.write(json.dumps(out) + "\n")
    for v, outs in results.items():
        print(f"{v}: saved mean {statistics.fmean(o['saved_pct'] for o in outs):.1f}% worst "
              f"{min(o['saved_pct'] for o in outs):.1f}%; CPU-s {sum(o['cpu_s'] for o in outs):.1f}; "
              f"ratio {min(o['cpu_ratio'] for o in outs)}-{max(o['cpu_ratio'] for o in outs)}")


if __name__ == "__main__":
    main()
