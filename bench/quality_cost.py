"""Benchmark: what measuring quality costs an ingest, and how far sampled VMAF is from full-frame VMAF.

(a) Cost: `miniflix ingest` of one 1080p30 clip (motion and noise, 5 rungs; the source of
bench/encode_ladder.py, `--source-gop` 250 by default) with measuring on and off, `--runs` times
each, alternating (on-off, then off-on, …); every run, the medians and their ratio (target <= 2.0:
measuring must not double the ingest), with the load average before each run (the machine may be
shared). Per run also the encode stage's and the rest's (package, verify with the measure,
thumbnails, publish) wall and CPU seconds, and verify ÷ encode: the measure's cost within one run,
whatever the load.
(b) Error: the test set (generated static, animated, noisy and zooming clips, and the real files
in ../shared/media) is ingested with measuring off, then every rung is measured twice against its
source: every frame, and as an ingest does (every `--every`th frame, at least 30 per rung). Per
clip the largest difference over its rungs of the mean, the 5th percentile and the worst segment's
score, and both CPU times.

    .venv/bin/python bench/quality_cost.py [--seconds 10] [--source-gop 250] [--runs 3] [--every 20]
        [--skip-cost | --skip-error] [--clips static,zoom,bbb_720p_aac_5.1.mp4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._measure import Measured, measure
from bench.encode_ladder import make_source
from server.catalog import Catalog
from server.media.ffmpeg import find_tools
from server.media.model import PackagedTitle
from server.media.probe import probe
from server.media.quality import QualityReport, measure_title
from server.paths import DataDir
from tests.conftest import shared_media_dir

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
GENERATED = {  # name: lavfi source (24 s, 360p: the error is about which frames are scored, not size)
    "static": "testsrc=size=640x360:rate=25:duration=24,boxblur=2",
    "animated": "testsrc2=size=640x360:rate=30:duration=24",
    "noisy": "testsrc2=size=640x360:rate=30:duration=24,noise=alls=20:allf=t+u",
    "zoom": "mandelbrot=size=640x360:rate=25,trim=duration=24",
}
SHARED = ("bbb_720p_aac_5.1.mp4", "iphone_rotated_-90.mov", "hevc_main10_10bit.ts",
          "qcif_176x144_sar_noaudio.mp4", "mjpeg_pcm_u8.mov", "mpeg2_pal_anamorphic.mxf",
          "vp8_1080p_vfr_noaudio.webm", "avchd_1080i_interlaced_ac3.mts", "h263_amrnb.3gp")


def ingest(clip: Path, data: Path, measuring: bool) -> dict[str, Any]:
    """Wall and CPU of one `main.py ingest`, whole and split at the encode stage's end; fails loudly
    when the title is not published."""
    env = {"MINIFLIX_QUALITY_MEASURE": "on" if measuring else "off"}
    run = measure([sys.executable, str(ROOT / "main.py"), "ingest", str(clip), "--data-dir", str(data),
                   "--json"], env=env)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if result["status"] != "published":
        raise SystemExit(f"{clip.name}: {result['error']}")
    timing, stages = result.get("timing") or {}, result.get("stages") or {}
    began, ended = timing.get("encode_started_at"), timing.get("encode_ended_at")
    encode_cpu = _cpu_at(run, ended) - _cpu_at(run, began) if began and ended else float("nan")
    return {"wall_s": round(run.wall_s, 2), "cpu_s": round(run.cpu_s, 2),
            "encode_s": stages.get("encode"), "verify_s": stages.get("verify"),
            "encode_cpu_s": round(encode_cpu, 1),
            "after_encode_cpu_s": round(run.cpu_s - _cpu_at(run, ended), 1) if ended else float("nan"),
            "verify_per_encode": round(stages.get("verify", 0) / stages["encode"], 3)
            if stages.get("encode") else float("nan"),
            "peak_mb": round(run.peak_rss_mb), "stages": stages}


def _cpu_at(run: Measured, when: float) -> float:
    """The tree's CPU seconds at epoch time `when`, from the samples (every 0.5 s) around it."""
    before = [cpu for t, cpu in run.samples if t <= when]
    return before[-1] if before else 0.0


def cost(seconds: int, gop: int, runs: int) -> dict[str, Any]:
    """Ingest wall and CPU with measuring on and off, alternating."""
    source = make_source(seconds, gop)
    rows: list[dict[str, Any]] = []
    for i in range(runs):
        for measuring in ((True, False) if i % 2 == 0 else (False, True)):
            load = os.getloadavg()[0]
            with tempfile.TemporaryDirectory(prefix="miniflix-qbench-") as tmp:
                figures = ingest(source, Path(tmp), measuring)
            rows.append({"run": i + 1, "measuring": measuring, **figures, "load_before": round(load, 2)})
            print(json.dumps(rows[-1]), flush=True)
    on = median(r["wall_s"] for r in rows if r["measuring"])
    off = median(r["wall_s"] for r in rows if not r["measuring"])
    return {"source": source.name, "rows": rows, "median_on_s": on, "median_off_s": off,
            "ratio": round(on / off, 3)}


def make_generated(name: str, lavfi: str, folder: Path) -> Path:
    path = folder / f"{name}.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", lavfi, "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def measured_twice(clip: Path, every: int, work: Path) -> dict[str, Any]:
    """Ingest without measuring, then measure each rung every frame and every `every`th frame."""
    data = work / clip.stem
    ingest(clip, data, measuring=False)
    [title] = Catalog(DataDir.resolve(data).catalog_db).list(None)
    root = DataDir.resolve(data).origin / "videos" / title.video_id
    info = probe(clip, find_tools())
    packaged = PackagedTitle(root, renditions=title.renditions)
    full, full_cpu = _timed(lambda: measure_title(info, packaged, 4.0, sample_every=1))
    sampled, sampled_cpu = _timed(lambda: measure_title(info, packaged, 4.0, sample_every=every))
    return {"clip": clip.name, "rungs": len(title.renditions), "every": sampled.sample_every,
            "frames": info.expected_frames, **_differences(full, sampled),
            "full_cpu_s": full_cpu, "sampled_cpu_s": sampled_cpu,
            "notes": full.notes + sampled.notes}


def _timed(run: Any) -> tuple[QualityReport, float]:
    before = os.times()
    report = run()
    after = os.times()
    return report, round(after.children_user + after.children_system
                         - before.children_user - before.children_system, 2)


def _differences(full: QualityReport, sampled: QualityReport) -> dict[str, float]:
    pairs = [(f, sampled.by_name()[f.name]) for f in full.rungs if f.name in sampled.by_name()]
    if not pairs:
        return {"mean_err": float("nan"), "p5_err": float("nan"), "worst_err": float("nan")}
    return {"mean_err": round(max(abs(f.vmaf_mean - s.vmaf_mean) for f, s in pairs), 2),
            "p5_err": round(max(abs(f.vmaf_p5 - s.vmaf_p5) for f, s in pairs), 2),
            "worst_err": round(max(abs(f.worst_segment.vmaf - s.worst_segment.vmaf) for f, s in pairs), 2),
            "top_vmaf_full": full.rungs[0].vmaf_mean}


def errors(every: int, chosen: set[str]) -> list[dict[str, Any]]:
    """The sampling error on the test set (or on the `chosen` clips of it: generated names, file names)."""
    work = Path(tempfile.mkdtemp(prefix="miniflix-qerr-"))
    try:
        clips = [make_generated(n, lavfi, work) for n, lavfi in GENERATED.items() if _picked(n, chosen)]
        clips += [shared_media_dir() / name for name in SHARED
                  if (shared_media_dir() / name).exists() and _picked(name, chosen)]
        rows = []
        for clip in clips:
            rows.append(measured_twice(clip, every, work))
            print(json.dumps(rows[-1]), flush=True)
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _picked(name: str, chosen: set[str]) -> bool:
    return not chosen or name in chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--source-gop", type=int, default=250, help="keyframe interval of the cost's source")
    parser.add_argument("--clips", default="", help="only these clips of the error set, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--skip-error", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    began = time.time()
    result: dict[str, Any] = {"cores": os.cpu_count(), "every": args.every}
    if not args.skip_error:
        result["errors"] = errors(args.every, {c for c in args.clips.split(",") if c})
    if not args.skip_cost:
        result["cost"] = cost(args.seconds, args.source_gop, args.runs)
        print(f"ingest wall, median of {args.runs}: on {result['cost']['median_on_s']} s, "
              f"off {result['cost']['median_off_s']} s, ratio {result['cost']['ratio']}")
    result["took_s"] = round(time.time() - began, 1)
    part = "error" if args.skip_cost else "ingest" if args.skip_error else "all"
    (OUT / f"quality_cost_{part}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
