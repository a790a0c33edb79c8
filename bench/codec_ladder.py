"""Benchmark: the AV1 and HEVC ladders against the H.264 ladder: bits at equal VMAF, and encode CPU.

Per title (generated talking-head, animation and sport clips, 720p25, the same set as
bench/per_title.py):
- BD-rate-style saving at equal VMAF of each codec's ladder against the H.264 one, from ONE real
  ingest with `--codecs h264,av1,hevc` and quality measuring on: every rung's bitrate (from its
  segments) and VMAF (against the source); the hull comparison is bench/per_title.py's `bits_saved`
  (log bitrate read linearly between rungs, averaged over the VMAF range both ladders cover).
  Quality is deterministic for a given encode, so it is measured in the first run only.
- Encode CPU-s: the whole ingest's CPU (process tree, quality measuring off) with `--codecs h264`,
  `h264,av1` and `h264,hevc`; a codec's cost is its ingest's CPU minus the H.264-only ingest's (the
  chunk encodes decode and scale once for every codec, so the difference is that codec's encoders).
`--runs` runs, the load average before each; the table gives the median and the spread.

    .venv/bin/python bench/codec_ladder.py [--runs 3] [--seconds 4] [--titles talking_head,sport]
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
from per_title import GENERATED, bits_saved, make_clip, rung_points

ROOT = Path(__file__).resolve().parents[1]
CODEC_SETS = {"h264": "h264", "av1": "h264,av1", "hevc": "h264,hevc"}


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
    split: dict[str, list[dict[str, Any]]] = {"h264": [], "av1": [], "hevc": []}
    for rung in result["renditions"]:
        split[rung["name"].partition("-")[2] or "h264"].append(rung)
    return {codec: {"renditions": rungs} for codec, rungs in split.items()}


def quality_row(clip: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-codecs-") as tmp:
        result, _ = ingest(clip, Path(tmp), "h264,av1,hevc", quality=True)
    by_codec = {c: rung_points(r) for c, r in ladders(result).items()}
    return {"rungs": {c: [(p.name, p.kbps, p.vmaf) for p in pts] for c, pts in by_codec.items()},
            "kbps": {c: round(sum(p.kbps for p in pts), 1) for c, pts in by_codec.items()},
            "saved_pct": {c: bits_saved(by_codec["h264"], by_codec[c]) for c in ("av1", "hevc")}}


def cpu_row(clip: Path) -> dict[str, float]:
    cpu = {}
    for codec, codecs in CODEC_SETS.items():
        with tempfile.TemporaryDirectory(prefix="bench-codecs-") as tmp:
            cpu[codec] = round(ingest(clip, Path(tmp), codecs, quality=False)[1], 1)
    return {"h264": cpu["h264"], "av1": round(cpu["av1"] - cpu["h264"], 1),
            "hevc": round(cpu["hevc"] - cpu["h264"], 1)}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):g} ({min(values):g}-{max(values):g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--titles", default=",".join(GENERATED))
    args = parser.parse_args()
    clips = [make_clip(n, args.seconds) for n in args.titles.split(",")]
    quality = {}
    for clip in clips:
        quality[clip.name] = quality_row(clip)
        print(json.dumps({"title": clip.name, **quality[clip.name]}), flush=True)
    cpu: dict[str, list[dict[str, float]]] = {c.name: [] for c in clips}
    for run in range(args.runs):
        print(f"run {run + 1}: load average before {os.getloadavg()[0]:.2f}", flush=True)
        for clip in clips:
            cpu[clip.name].append(cpu_row(clip))
            print(json.dumps({"title": clip.name, "cpu_s": cpu[clip.name][-1]}), flush=True)
    print("\n| title | H.264 ladder kbit/s | AV1 kbit/s | HEVC kbit/s | AV1 bits saved at equal VMAF % "
          "| HEVC bits saved % | ingest CPU-s, H.264 only | + AV1 encode CPU-s | + HEVC encode CPU-s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for clip in clips:
        q, rows = quality[clip.name], cpu[clip.name]
        print(f"| {clip.name} | {q['kbps']['h264']} | {q['kbps']['av1']} | {q['kbps']['hevc']} | "
              f"{q['saved_pct']['av1']} | {q['saved_pct']['hevc']} | "
              f"{spread([r['h264'] for r in rows])} | {spread([r['av1'] for r in rows])} | "
              f"{spread([r['hevc'] for r in rows])} |")
    for codec in ("av1", "hevc"):
        saved = [quality[c.name]["saved_pct"][codec] for c in clips]
        print(f"mean bits saved by {codec} at equal VMAF: {statistics.fmean(saved):.1f}%")


if __name__ == "__main__":
    main()
