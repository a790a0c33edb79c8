"""Sources no rung can be made of, through the real ingest queue: a 1x1 or 3x3 video and a still
image fail once, at probe time, with a clear media error (no encode attempted, nothing retried), and
the next job in the queue still publishes; an odd-sized source above the minimum is encoded at even
sizes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from server.engine import Engine
from server.jobs.pipeline import IngestOptions
from server.jobs.service import FINISHED, IngestService
from server.paths import DataDir
from tests.jobs.helpers import events

OPTIONS = IngestOptions(workers=2, segment_seconds=1.0, retries=2, preset="ultrafast",
                        min_chunk_seconds=1.0)
WAIT_S = 180.0


def ffmpeg(out: Path, source: str, *args: str) -> Path:
    """`source` (a lavfi graph scaled to exactly the size wanted, square pixels) written to `out`."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{source},setsar=1", *args,
                    str(out)], check=True)
    return out


def tiny_video(out: Path, size: str) -> Path:
    """2 s of moving picture at exactly `size` (FFV1 keeps odd sizes, H.264 4:2:0 could not)."""
    w, h = size.split("x")
    return ffmpeg(out, f"testsrc=size=64x64:rate=25:duration=2,scale={w}:{h},format=yuv444p", "-c:v", "ffv1")


def wait_finished(service: IngestService, job_id: str) -> str:
    deadline = time.monotonic() + WAIT_S
    while (state := service.get(job_id).record.state) not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.1)
    return state


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    return {
        "dot.mkv": tiny_video(tmp_path / "dot.mkv", "1x1"),
        "three.mkv": tiny_video(tmp_path / "three.mkv", "3x3"),
        "red dot.mp4": ffmpeg(tmp_path / "red dot.mp4", "color=c=red:size=16x16:rate=25:duration=2,scale=1:1",
                              "-c:v", "libx264", "-pix_fmt", "yuv444p"),
        "pixel.png": ffmpeg(tmp_path / "pixel.png", "color=c=red:size=16x16,scale=1:1", "-frames:v", "1"),
        "photo.jpg": ffmpeg(tmp_path / "photo.jpg", "testsrc=size=320x240", "-frames:v", "1"),
        "odd.mkv": tiny_video(tmp_path / "odd.mkv", "17x17"),
    }


REFUSALS = {
    "dot.mkv": "dot.mkv: 1x1 is too small; the smallest source MiniFlix encodes is 16x16.",
    "three.mkv": "three.mkv: 3x3 is too small; the smallest source MiniFlix encodes is 16x16.",
    "red dot.mp4": "red dot.mp4: 1x1 is too small; the smallest source MiniFlix encodes is 16x16.",
    "pixel.png": "pixel.png is a still image (PNG, 1x1, one frame), not a video.",
    "photo.jpg": "photo.jpg is a still image (MJPEG, 320x240, one frame), not a video.",
}


def test_unencodable_sources_fail_once_with_a_clear_error_and_the_queue_goes_on(
        tmp_path: Path, sources: dict[str, Path]) -> None:
    data = DataDir.resolve(tmp_path / "d")
    with Engine(data) as engine:
        service = engine.ingest_service(OPTIONS)
        service.start()
        try:
            jobs = {name: service.submit(path, name).record.job_id for name, path in sources.items()}
            states = {name: wait_finished(service, job_id) for name, job_id in jobs.items()}
            shown = {name: service.get(job_id).to_dict() for name, job_id in jobs.items()}
        finally:
            service.stop()
    assert states == {**dict.fromkeys(REFUSALS, "failed"), "odd.mkv": "published"}
    for name, message in REFUSALS.items():
        assert shown[name]["error"].startswith(message), shown[name]["error"]
        assert "attempts" not in shown[name]["error"] and "divisible" not in shown[name]["error"]
    failures = [e for e in events(data.root, "videos") if e["type"] == "failed"]
    assert sorted(e["job_id"] for e in failures) == sorted(jobs[name] for name in REFUSALS), "once each"
    tried = {e["job_id"] for e in events(data.root, "encode")}
    assert tried == {jobs["odd.mkv"]}, "a source refused at probe time is never encoded, nor retried"
    [published] = [e for e in events(data.root, "videos") if e["type"] == "published"]
    rungs = [(r["name"], r["width"], r["height"]) for r in published["title"]["renditions"]]
    assert rungs == [("16p", 16, 16)]
