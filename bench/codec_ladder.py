"""Benchmark: the AV1 and HEVC ladders against the H.264 ladder: bits at equal VMAF, and encode CPU.

Per title of the issue's set (bench/title_set.py: generated talking-head, slides, animation, sport
and film-grain clips at 720p25, and the real files in ../shared/media):
- BD-rate-style saving at equal VMAF of each codec's ladder against the H.264 one, from ONE real
  ingest with `--codecs h264,<codecs>` and quality measuring on: every rung's bitrate (from its
  segments) and VMAF (against the source); the hull comparison is bench/per_title.py's `bits_saved`
  (log bitrate read linearly between rungs, averaged over the VMAF range both ladders cover).
  Quality is deterministic for a given encode, so it is measured in the first run only.
- Encode CPU-s: the whole ingest's CPU (process tree, quality measuring off) with `--codecs h264`,
  then `h264,av1` and `h264,hevc`; a codec's cost is its ingest's CPU minus the H.264-only ingest's
  (the chunk encodes decode and scale once for every codec, so the difference is that codec's
  encoders), both from the same run.
`--runs` runs, the load average before each; the table gives the median and the spread. Every row
goes to bench/out/codec_ladder.json as well. Generated clips are 8 s by default (the set's 20 s
would take hours for three codecs x three runs on a shared 2-core machine); the shared files are
used whole.

    .venv/bin/python bench/codec_ladder.py [--runs 3] [--seconds 8] [--titles talking_head,sport,...]
                                           [--codecs av1,hevc]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _measure import measure
from per_title import bits_saved, rung_points
from title_set import OUT, TITLES, title_clip

ROOT = Path(__file__).resolve().parents[1]
RESULTS = OUT / "codec_ladder.json"
OTHERS = ("av1", "hevc")
DEFAULT_SECONDS = 8.0


def ingest(clip: Path, data: Path, codecs: str, quality: bool) -> tuple[dict[str, Any], float]:
    """One `main.py ingest --json --codecs …`: (its result, CPU seconds of the whole process tree)."""
    run = measure([sys.executable, str(ROOT / "main.py"), "ingest", str(clip), "--data-dir", str(data),
                   "--json", "--codecs", codecs],
                  env={"MINIFLIX_QUALITY_MEASURE": "on" if quality else "off", "MINIFLIX_LADDER": "fixed"})
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    if result["status"] != "published":
        raise SystemExit(f"{clip.name} ({codecs}): {result['error']}")
    return result, run.cpu_s


def ladders(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The published rungs split by codec (rung name suffix), as per_title.rung_points reads them."""
    split: dict[str, list[dict[str, Any]]] = {}
    for rung in result["renditions"]:
        split.setdefault(rung["name"].partition("-")[2] or "h264", []).append(rung)
    return {codec: {"renditions": rungs} for codec, rungs in split.items()}


def quality_row(clip: Path, others: tuple[str, ...]) -> dict[str, Any]:
    """Every codec's rungs (name, kbit/s, VMAF), its ladder's total kbit/s and its bits saved."""
    with tempfile.TemporaryDirectory(prefix="bench-codecs-") as tmp:
        result, _ = ingest(clip, Path(tmp), ",".join(("h264", *others)), quality=True)
    by_codec = {c: rung_points(r) for c, r in ladders(result).items()}
    return {"rungs": {c: [(p.name, p.kbps, p.vmaf) for p in pts] for c, pts in by_codec.items()},
            "kbps": {c: round(sum(p.kbps for p in pts), 1) for c, pts in by_codec.items()},
            "saved_pct": {c: bits_saved(by_codec["h264"], by_codec[c]) for c in others},
            "notes": [n for n in result.get("notes", []) if n.startswith("segments")]}


def cpu_row(clip: Path, others: tuple[str, ...]) -> dict[str, float]:
    """The H.264-only ingest's CPU-s, and what each other codec's ladder adds to it (same run)."""
    cpu = {}
    for codec in ("h264", *others):
        codecs = "h264" if codec == "h264" else f"h264,{codec}"
        with tempfile.TemporaryDirectory(prefix="bench-codecs-") as tmp:
            cpu[codec] = round(ingest(clip, Path(tmp), codecs, quality=False)[1], 1)
    return {"h264": cpu["h264"], **{c: round(cpu[c] - cpu["h264"], 1) for c in others}}


def spread(values: list[float]) -> str:
    """Median (min-max); one value as it is; `-` when the title's CPU was not measured."""
    if len(values) < 2:
        return f"{values[0]:g} (1 run)" if values else "-"
    return f"{statistics.median(values):g} ({min(values):g}-{max(values):g})"


def table(names: list[str], quality: dict[str, Any], cpu: dict[str, list[dict[str, float]]],
          others: tuple[str, ...]) -> list[str]:
    """The markdown table of docs/BENCHMARKS.md and the mean saving per codec."""
    label = {"av1": "AV1", "hevc": "HEVC"}
    lines = ["| title | H.264 ladder kbit/s | " + " | ".join(f"{label[c]} kbit/s" for c in others)
             + " | " + " | ".join(f"{label[c]} bits saved at equal VMAF %" for c in others)
             + " | ingest CPU-s, H.264 only | " + " | ".join(f"+ {label[c]} encode CPU-s" for c in others)
             + " |", "|---" * (3 + 3 * len(others)) + "|"]
    for name in names:
        q, rows = quality[name], cpu.get(name, [])
        cells = [name, q["kbps"]["h264"], *(q["kbps"][c] for c in others),
                 *(q["saved_pct"][c] for c in others), spread([r["h264"] for r in rows]),
                 *(spread([r[c] for r in rows]) for c in others)]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    for codec in others:
        saved = [quality[n]["saved_pct"][codec] for n in names]
        lines.append(f"mean bits saved by {codec} at equal VMAF: {statistics.fmean(saved):.1f}% "
                     f"(median {statistics.median(saved):.1f}%, worst {min(saved):.1f}%)")
    return lines


def quality_pass(clips: dict[str, Path], others: tuple[str, ...], log: dict[str, Any], out: Path) -> None:
    log["quality_load"] = round(os.getloadavg()[0], 2)
    print(f"quality: load average before {log['quality_load']:.2f}", flush=True)
    for name, clip in clips.items():
        log["quality"][name] = quality_row(clip, others)
        print(json.dumps({"title": name, **log["quality"][name]}), flush=True)
        out.write_text(json.dumps(log, indent=1))  # what is done survives a stopped run


def cpu_pass(clips: dict[str, Path], others: tuple[str, ...], runs: int, log: dict[str, Any],
             out: Path) -> None:
    """`runs` rounds over every title (round-major: a stopped run still covers every title)."""
    log["cpu"] = {n: [] for n in clips}
    for run in range(runs):
        log["load"].append(round(os.getloadavg()[0], 2))
        print(f"run {run + 1}: load average before {log['load'][-1]:.2f}", flush=True)
        for name, clip in clips.items():
            log["cpu"][name].append(cpu_row(clip, others))
            print(json.dumps({"title": name, "cpu_s": log["cpu"][name][-1]}), flush=True)
            out.write_text(json.dumps(log, indent=1))


def merged_table(files: list[str]) -> list[str]:
    """The table from saved results (e.g. a quality pass and a CPU pass run side by side)."""
    logs = [json.loads(Path(f).read_text()) for f in files]
    quality = {k: v for log in logs for k, v in log.get("quality", {}).items()}
    cpu: dict[str, list[dict[str, float]]] = {}
    for log in logs:  # CPU passes of different titles, or more runs of one, side by side
        for name, rows in log.get("cpu", {}).items():
            cpu.setdefault(name, []).extend(rows)
    cpu = {name: rows for name, rows in cpu.items() if rows}
    others = tuple(logs[0]["codecs"])
    return table(list(quality), quality, cpu, others)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of generated clips")
    parser.add_argument("--titles", default=",".join(TITLES), help=f"from {', '.join(TITLES)}")
    parser.add_argument("--codecs", default=",".join(OTHERS), help="the ladders compared with H.264")
    parser.add_argument("--part", choices=("both", "quality", "cpu"), default="both",
                        help="run one pass only (to bench/out/codec_ladder_<part>.json)")
    parser.add_argument("--table", nargs="+", metavar="JSON", help="print the table from saved results")
    parser.add_argument("--out", type=Path, help="results file (default bench/out/codec_ladder*.json)")
    args = parser.parse_args()
    if args.table:
        print("\n".join(merged_table(args.table)))
        return
    others = tuple(c for c in args.codecs.split(",") if c in OTHERS)
    clips = {n: title_clip(n, args.seconds) for n in args.titles.split(",")}
    default = RESULTS if args.part == "both" else RESULTS.with_name(f"codec_ladder_{args.part}.json")
    out = args.out or default
    log: dict[str, Any] = {"seconds": args.seconds, "codecs": others, "quality": {}, "cpu": {}, "load": []}
    if args.part in ("both", "quality"):
        quality_pass(clips, others, log, out)
    if args.part in ("both", "cpu"):
        cpu_pass(clips, others, args.runs, log, out)
    if args.part == "both":
        print("\n" + "\n".join(table(list(clips), log["quality"], log["cpu"], others)))


if __name__ == "__main__":
    main()
