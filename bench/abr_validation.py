"""Benchmark: the ABR lab's throughput rule against hls.js (its default ABR) in headless Chromium.

A noisy 720p title (4 rungs, 2 s segments) is published; one edge, reached through steering, follows
a bandwidth trace (steps and mobile, several seeds); hls.js plays the title through it while the page
records the rung of every fragment; the lab's `throughput` rule plays the same trace over the same
segment sizes. Reported per trace and run: the share of segments within one rung (target >= 0.9) and
exactly on the same rung, and the rate-cap accuracy of the edge at the traces' rates.

    .venv/bin/python bench/abr_validation.py [--runs 3] [--seconds 60] [--traces steps:1,mobile:1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.labs.abr_throttle import cap_accuracy
from server.labs.abr_traces import synthetic
from server.labs.abr_validate import validate
from tests.http.conftest import Made
from tests.labs.hlsjs_probe import Rig, encode_ladder_title

CAP_RATES = (0.4, 1.0, 2.5, 6.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=60, help="title length (2 s segments)")
    parser.add_argument("--traces", default="steps:1,steps:2,mobile:1,mobile:2",
                        help="kind:seed list (default steps:1,steps:2,mobile:1,mobile:2)")
    parser.add_argument("--rtt-ms", type=float, default=40.0)
    parser.add_argument("--json", type=Path, help="also write every comparison to this file")
    parser.add_argument("--title-cache", type=Path, help="keep the encoded title here and reuse it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="abr-validation-") as tmp:
        root = Path(tmp)
        made = title(args.title_cache or root / "title", args.seconds)
        rig = Rig(root / "rig", made, rtt_ms=args.rtt_ms)
        try:
            return run(rig, args)
        finally:
            rig.close()


def title(folder: Path, seconds: int) -> Made:
    """The noisy 4-rung title, encoded once per cache folder."""
    saved = folder / "made.json"
    if saved.is_file():
        doc = json.loads(saved.read_text())
        return Made(Path(doc["folder"]), doc["seconds"], doc["frames"], tuple(doc["renditions"]))
    began = time.monotonic()
    made = encode_ladder_title(folder, seconds, 2.0)
    print(f"title encoded in {time.monotonic() - began:.0f} s", flush=True)
    saved.write_text(json.dumps({"folder": str(made.folder), "seconds": made.seconds, "frames": made.frames,
                                 "renditions": list(made.renditions)}))
    return made


def run(rig: Rig, args: argparse.Namespace) -> int:
    ladder = rig.ladder()
    rig.warm(ladder)
    rungs = ", ".join(f"{r['name']} {r['kbps']:.0f}k (peak {r['peak_kbps']:.0f}k)"
                      for r in ladder.describe()["rungs"])  # type: ignore[attr-defined]
    print(f"ladder: {rungs}; {len(ladder.durations)} segments")
    segment = f"cmaf/{ladder.rungs[-1].name}/seg_00002.m4s"
    for d in cap_accuracy(rig.edge, rig.edge.url_for(rig.video_id, segment), CAP_RATES, args.rtt_ms):
        print(f"edge cap {d.cap_mbps:>4} Mbit/s: delivered {d.delivered_mbps:.3f} ({d.ratio:.1%}), "
              f"first byte {d.ttfb_s * 1000:.0f} ms")
    results = []
    for spec in args.traces.split(","):
        kind, _, seed = spec.partition(":")
        trace = synthetic(kind, int(seed or 1))
        shares = []
        for n in range(args.runs):
            comparison = validate(ladder, trace, rig.edge, lambda: rig.play(len(ladder.durations)),
                                  args.rtt_ms)
            shares.append(comparison.within_one)
            results.append({**comparison.to_dict(), "trace": spec, "run": n + 1})
            print(f"{spec:<9} run {n + 1}: within one rung {comparison.within_one:.0%}, exact "
                  f"{comparison.exact:.0%}, emergency aborts {comparison.emergency_aborts}, fetch time / "
                  f"trace's {comparison.extra['link']}\n"
                  f"   hls.js {''.join(map(str, comparison.hlsjs))}\n"
                  f"   lab    {''.join(map(str, comparison.lab))}",
                  flush=True)
        print(f"{spec:<9} within one rung: mean {statistics.fmean(shares):.1%}, "
              f"min {min(shares):.1%}, max {max(shares):.1%}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
