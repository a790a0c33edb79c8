"""Benchmark: the sampled VMAF mean's error at every sampling step, from one full-frame run per clip.

`bench/quality_cost.py` measures the error at one step per clip (the one an ingest picks for its
length). A title of another length gets another step, and which frames a step lands on moves the
mean. This scores every frame of every rung of the same test set once (ingested with measuring
off), saves the per-frame VMAF to `bench/out/quality_frames/<clip>.json`, then re-samples those
logs offline at every step 1-40 the measure can pick (all but 2: `effective_every`), exactly as
`server/media/quality.py` picks its scored frames (each scored frame's figures equal the
full-frame run's: tests/media/test_quality.py, so the offline mean is the sampled run's mean).
Per clip: the step an ingest picks and its error, and the worst error over the steps that keep at
least `quality.MIN_SCORED` frames, and over those that keep 20-29 (what a lower floor would
allow). The logs are kept: a second run only re-samples.

    .venv/bin/python bench/quality_steps.py [--clips zoom,bbb_720p_aac_5.1.mp4]
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
from bench.quality_cost import GENERATED, SHARED, ingest, make_generated
from server import config
from server.catalog import Catalog
from server.media.ffmpeg import find_measuring_tool, find_tools
from server.media.probe import probe
from server.media.quality import MIN_SCORED, effective_every, score_rungs, scored_frames
from server.media.verify import Grid
from server.paths import DataDir
from tests.conftest import shared_media_dir

FRAMES = Path(__file__).resolve().parent / "out" / "quality_frames"
STEPS = [step for step in range(1, 41) if effective_every(step, 10**6) == step]  # those it can pick (not 2)


def full_frame_log(clip: Path, work: Path) -> dict[str, Any]:
    """Every rung's VMAF at every frame (cached in FRAMES)."""
    cached = FRAMES / f"{clip.stem}.json"
    if cached.exists():
        return dict(json.loads(cached.read_text()))
    data = work / clip.stem
    ingest(clip, data, measuring=False)
    [title] = Catalog(DataDir.resolve(data).catalog_db).list(None)
    root = DataDir.resolve(data).origin / "videos" / title.video_id
    info = probe(clip, find_tools())
    assert info.video is not None
    frames = Grid.plan(info.expected_frames, info.video.fps, 4.0).total
    names = [str(r["name"]) for r in title.renditions]
    scored = score_rungs(find_tools().ffmpeg, find_measuring_tool(),
                         [str(root / "cmaf" / name / "playlist.m3u8") for name in names], str(clip),
                         info.video, frames, 1)
    rungs = {name: {str(s.n): s.vmaf for s in rung} for name, rung in zip(names, scored, strict=True)}
    log = {"frames": frames, "rungs": rungs}
    FRAMES.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(log))
    return log


def error_at(log: dict[str, Any], every: int) -> float:
    """The largest difference over the rungs between the sampled and the full-frame mean."""
    worst = 0.0
    for rung in log["rungs"].values():
        scores = {int(n): float(v) for n, v in rung.items()}
        sampled = [scores[f] for f in scored_frames(int(log["frames"]), every) if f in scores]
        worst = max(worst, abs(statistics.fmean(sampled) - statistics.fmean(scores.values())))
    return worst


def row(name: str, log: dict[str, Any]) -> dict[str, Any]:
    frames = int(log["frames"])
    every = effective_every(config.get("quality_sample_every"), frames, config.get("quality_max_scored"))
    counts = {step: len(scored_frames(frames, step)) for step in {*STEPS, every}}
    at_floor = [error_at(log, s) for s in STEPS if counts[s] >= MIN_SCORED]
    below = [error_at(log, s) for s in STEPS if 20 <= counts[s] < MIN_SCORED]
    return {"clip": name, "frames": frames, "every": every, "scored": counts[every],
            "error": round(error_at(log, every), 2),
            "worst_at_floor": round(max(at_floor), 2) if at_floor else None,
            "worst_20_29": round(max(below), 2) if below else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", default="", help="only these clips of the set, comma-separated")
    args = parser.parse_args()
    chosen = {c for c in args.clips.split(",") if c}
    work = Path(tempfile.mkdtemp(prefix="miniflix-qsteps-"))
    clips = [make_generated(n, lavfi, work) for n, lavfi in GENERATED.items() if not chosen or n in chosen]
    clips += [shared_media_dir() / n for n in SHARED
              if (shared_media_dir() / n).exists() and (not chosen or n in chosen)]
    print(f"| clip | frames | step an ingest picks, scored frames | its error | worst, steps keeping >= "
          f"{MIN_SCORED} | worst, steps keeping 20-{MIN_SCORED - 1} |")
    print("|---|---|---|---|---|---|")
    for clip in clips:
        r = row(clip.name, full_frame_log(clip, work))
        print(f"| {r['clip']} | {r['frames']} | {r['every']}, {r['scored']} | {r['error']:.2f} | "
              f"{r['worst_at_floor']} | {r['worst_20_29']} |", flush=True)


if __name__ == "__main__":
    main()
