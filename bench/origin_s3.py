"""Benchmark: the S3 origin (a real SeaweedFS server on loopback) vs the file origin, same run.

1. Publish of a packaged 60 s title (the real pipeline's output, encoded once at the start):
   stage every file and commit, to a local folder (hard links + one rename, as ingest does) and to
   S3 (uploads, multipart above 8 MB, a size check per object, then the pointer). Wall and MB/s.
2. Edge miss latency: a fresh edge (real HTTP listener, no simulated RTT) asked once for each
   segment of the title, so every request is a miss that fills from the origin; median and p95.

Rounds alternate disk and S3 so machine load hits both alike; the load average is printed per round.

    .venv/bin/python bench/origin_s3.py [--seconds 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.cdn.clock import ManualClock
from server.cdn.edge import EdgeNode
from server.cdn.origin import StoreOrigin
from server.cdn.tokens import Signer
from server.cdn.topology import EdgeSpec
from server.cluster.seaweed import SeaweedServer
from server.engine import Engine
from server.jobs.pipeline import IngestOptions
from server.paths import DataDir
from server.storage.blobstore import BlobStore, LocalBlobStore, files_under
from server.storage.s3 import open_s3_origin

SPEC = EdgeSpec("bench-1", "eu-west", 51.5, -0.1, rtt_ms=0, bandwidth_mbps=None,
                capacity_bytes=2_000_000_000, ttl_s=3600, policy="lru")


class NoEvents:
    def publish(self, topic: str, key: str, value: dict[str, object]) -> tuple[int, int]:
        return (0, 0)


def make_title(work: Path, seconds: int) -> Path:
    """Encode a `seconds` 1280x720 clip once with the real pipeline; the published title folder."""
    clip = work / "clip.mp4"
    video = f"testsrc2=size=1280x720:rate=30:duration={seconds}"
    audio = f"sine=frequency=440:duration={seconds}"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    str(clip)], check=True)
    data = DataDir.resolve(work / "encode")
    options = IngestOptions(workers=2, segment_seconds=4.0, retries=0, preset="ultrafast",
                            min_chunk_seconds=10.0)
    with Engine(data) as engine:
        ingest = engine.ingest(options)
        job = ingest.run(ingest.create_job(clip))
    assert job.state == "published", job.error
    folder = data.origin / "videos" / job.video_id
    shutil.rmtree(folder / "source", ignore_errors=True)   # the upload is not part of what edges read
    return folder


def publish(store: BlobStore, folder: Path, prefix: str) -> float:
    """Seconds to stage and commit every file of `folder` as `prefix`."""
    began = time.perf_counter()
    staging = store.stage(prefix)
    for rel, path in files_under(folder):
        staging.add_file(rel, path)
    staging.commit()
    return time.perf_counter() - began


def miss_latencies(store: BlobStore, video_id: str, cache: Path) -> list[float]:
    """Milliseconds of one request per segment through a fresh edge (each a miss)."""
    keys = [k for k in store.list(f"videos/{video_id}") if k.endswith(".m4s")]
    edge = EdgeNode(SPEC, StoreOrigin(store), cache, Signer(b"b" * 32), NoEvents(), ManualClock())
    edge.start()
    try:
        took = []
        for key in keys:
            url = edge.url_for(video_id, key.split("/", 2)[2])
            began = time.perf_counter()
            with urllib.request.urlopen(url, timeout=30) as reply:
                reply.read()
                assert reply.headers["X-Cache"] == "MISS"
            took.append((time.perf_counter() - began) * 1000)
        return took
    finally:
        edge.close()
        shutil.rmtree(cache, ignore_errors=True)


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="origin-s3-bench-") as tmp:
        root = Path(tmp)
        folder = make_title(root, args.seconds)
        size = sum(p.stat().st_size for _, p in files_under(folder))
        files = sum(1 for _ in files_under(folder))
        print(f"title: {args.seconds} s, {files} files, {size / 1e6:.1f} MB")
        with SeaweedServer(root / "seaweed") as seaweed:
            seaweed.create_bucket("bench")
            os.environ.update(seaweed.env())
            stores: dict[str, BlobStore] = {"disk": LocalBlobStore(root / "disk-origin"),
                                            "s3": open_s3_origin(seaweed.origin_url("bench"), None)}
            rows: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in stores}
            for number in range(1, args.rounds + 1):
                for name, store in stores.items():
                    video_id = f"r{number}"
                    wall = publish(store, folder, f"videos/{video_id}")
                    took = miss_latencies(store, video_id, root / f"edge-{name}-{number}")
                    load = os.getloadavg()[0]
                    rows[name].append((wall, statistics.median(took), p95(took), load))
                    print(f"round {number} {name:>4}: publish {wall:6.2f} s ({size / 1e6 / wall:7.1f} MB/s), "
                          f"edge miss median {statistics.median(took):6.1f} ms p95 {p95(took):6.1f} ms "
                          f"({len(took)} segments), load {load:.1f}", flush=True)
        report(rows, size)


def report(rows: dict[str, list[tuple[float, float, float, float]]], size: int) -> None:
    print("\n| origin | publish wall s (1/2/3) | MB/s (1/2/3) | edge miss median ms (1/2/3) "
          "| p95 ms (1/2/3) | load |")
    print("|---|---|---|---|---|---|")
    for name, runs in rows.items():
        walls = " / ".join(f"{w:.2f}" for w, *_ in runs)
        rates = " / ".join(f"{size / 1e6 / w:.0f}" for w, *_ in runs)
        medians = " / ".join(f"{m:.1f}" for _, m, _, _ in runs)
        tails = " / ".join(f"{t:.1f}" for _, _, t, _ in runs)
        loads = f"{min(r[3] for r in runs):.1f}-{max(r[3] for r in runs):.1f}"
        print(f"| {name} | {walls} | {rates} | {medians} | {tails} | {loads} |")
    for i, (disk, s3) in enumerate(zip(rows["disk"], rows["s3"], strict=True), 1):
        print(f"round {i}: S3/disk publish wall {s3[0] / disk[0]:.1f}x, "
              f"edge miss median {s3[1] / disk[1]:.1f}x")


if __name__ == "__main__":
    main()
