"""A small, fully known event history (titles, encodes, sessions, CDN requests, steering) whose
analytics figures are computed by hand in the tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.catalog import Title
from server.events.log import EventLog, open_event_log
from server.paths import DataDir

T0 = 1_700_000_000.0


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    return DataDir.resolve(tmp_path / "data")


@pytest.fixture
def log(data: DataDir) -> Iterator[EventLog]:
    with open_event_log(data) as opened:
        yield opened


def measured(height: int, bandwidth: int) -> dict[str, Any]:
    """Quality figures of a rung as the ingest stores them (server/media/quality.py), with decimals."""
    return {"bitrate_kbps": bandwidth / 1300 + 0.04, "vmaf_mean": 60 + height / 31 + 0.004,
            "vmaf_p5": 55 + height / 37 + 0.006, "psnr_y": 30 + height / 97, "ssim": 0.98 + height / 1e5,
            "worst_segment": {"index": 3, "start_s": 8.0 + 1 / 3, "end_s": 12.0, "vmaf": 50 + height / 41},
            "frames_scored": 90}


def title(video_id: str, name: str, duration: float, rungs: list[tuple[str, int]],
          size: int) -> dict[str, Any]:
    renditions = [{"name": n, "width": 0, "height": int(n[:-1]), "bandwidth": bw, "frames": 0,
                   **({"quality": measured(int(n[:-1]), bw)} if int(n[:-1]) >= 720 else {})}
                  for n, bw in rungs]  # the 360p rungs stay unmeasured: encode_quality gives NULLs
    return Title(video_id=video_id, status="published", title=name, duration=duration,
                 renditions=renditions, size_bytes=size, created_at=T0).to_dict()


def play(log: EventLog, session: str, video: str, edge: str, region: str, *events: dict[str, Any]) -> None:
    base = {"session_id": session, "video_id": video, "edge": edge, "region": region,
            "rendition": "720p", "bitrate": 3_000_000}
    for i, extra in enumerate(events):
        log.publish("playback", session, {**base, "at": T0 + i, **extra})


def publish_scenario(log: EventLog) -> None:
    v1 = title("v1", "Cats in space", 120, [("720p", 3_000_000), ("360p", 800_000)], 60_000_000)
    v2 = title("v2", "Dogs at sea", 60, [("360p", 800_000)], 10_000_000)
    v3 = title("v3", "Gone", 30, [("360p", 800_000)], 5_000_000)
    for v in (v1, v2, v3):
        log.publish("videos", v["video_id"], {"type": "published", "video_id": v["video_id"], "at": T0,
                                              "title": v})
    log.publish("videos", "v3", {"type": "deleted", "video_id": "v3", "at": T0 + 5})
    play(log, "s1", "v1", "edge-a", "eu",
         {"type": "started", "startup_ms": 400},
         {"type": "segment", "bytes": 1000, "ms": 100},
         {"type": "quality_switch", "from": "720p", "to": "360p"},
         {"type": "segment", "bytes": 500, "ms": 300, "bitrate": 800_000, "rendition": "360p"},
         {"type": "stall", "duration_ms": 1000},
         {"type": "stopped", "watched_s": 60, "position_s": 120, "duration_s": 120})
    play(log, "s2", "v1", "edge-b", "us",
         {"type": "started", "startup_ms": 200},
         {"type": "segment", "bytes": 1000, "ms": 200},
         {"type": "stopped", "watched_s": 30, "position_s": 30, "duration_s": 120})
    play(log, "s3", "v2", "edge-a", "eu",
         {"type": "started", "startup_ms": 300},
         {"type": "stopped", "watched_s": 60, "position_s": 60, "duration_s": 60})
    for kind, size in (("hit", 1000), ("hit", 1000), ("miss", 2000)):
        log.publish("cdn", "edge-a", {"type": kind, "edge": "edge-a", "region": "eu", "video_id": "v1",
                                      "object": "videos/v1/x.m4s", "bytes": size, "at": T0 + 10,
                                      **({"reason": "content"} if kind == "miss" else {})})
    log.publish("encode", "v1", {"type": "task_progress", "video_id": "v1", "job_id": "j1",
                                 "task": "chunk-0000", "attempt": 1, "at": T0, "fraction": 0.5, "speed": 2})
    log.publish("encode", "v1", {"type": "job_done", "video_id": "v1", "job_id": "j1", "task": "job",
                                 "attempt": 1, "at": T0, "wall_s": 10, "cpu_s": 30, "chunks": 3, "retries": 1,
                                 "duration": 120, "realtime_factor": 12})
    log.publish("steering", "v1", {"type": "decision", "video_id": "v1", "client_region": "eu",
                                   "client_latlon": [48.8, 2.3], "chosen": "edge-a", "at": T0,
                                   "candidates": [{"edge": "edge-a", "rank": 1, "score": 0.9,
                                                   "reasons": ["nearest"]}]})
