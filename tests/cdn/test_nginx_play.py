"""The whole path on nginx edges: ingest a clip with edge_engine=nginx, ask steering for an edge, and
ffmpeg reads every frame of the title through that nginx edge (relative URIs keep the token)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from server.cdn.nginx_edge import NginxEdge
from server.cdn.steering import Steering
from server.engine import Engine
from server.jobs.pipeline import IngestOptions
from server.paths import DataDir
from tests.cdn.conftest import wait_for
from tests.cdn.test_nginx_edge import nginx_is_installed
from tests.conftest import engine_processes, generate_clip

SECONDS, FPS = 3, 25


def test_ffmpeg_plays_every_frame_through_steering_and_an_nginx_edge(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    nginx_is_installed()
    monkeypatch.setenv("MINIFLIX_EDGE_ENGINE", "nginx")
    clip = generate_clip(tmp_path / "clip.mp4", seconds=SECONDS, fps=FPS)
    data = DataDir.resolve(tmp_path / "data")
    with Engine(data) as engine:
        ingest = engine.ingest(IngestOptions(workers=2, segment_seconds=1.0, retries=0, preset="ultrafast",
                                             min_chunk_seconds=1.0))
        job = ingest.run(ingest.create_job(clip))
        assert job.state == "published", job.error
        cdn = engine.cdn()
        cdn.start()
        try:
            best = Steering(cdn, engine.events).best(job.video_id, "eu-west")
            edge = cdn.edge(best.edge)
            assert isinstance(edge, NginxEdge) and best.url is not None
            frames = count_frames(best.url)
            wait_for(lambda: edge.health()["misses"] > 2)
            again = count_frames(best.url)
        finally:
            cdn.stop()
    assert frames == again == SECONDS * FPS
    report = edge.health()
    assert report["hits"] >= report["misses"] > 2, report     # the second play came from the cache
    assert engine_processes("nginx", data.root) == []


def count_frames(url: str) -> int:
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostats", "-progress", "pipe:1", "-i", url,
                          "-map", "0:v:0", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120, check=True)
    return int(re.findall(r"^frame=(\d+)$", out.stdout, re.M)[-1])
