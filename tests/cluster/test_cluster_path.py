"""The whole mission on the cluster backends, as a user runs it: `cluster up`, then `ingest` encodes a
real clip's chunks on the Dask workers and publishes it to S3 (SeaweedFS) with its events on NATS
JetStream, `serve` plays it through steering → edge (filled from S3) to a real ffmpeg, and analytics
and search follow the bus."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.test_cluster_cli import ROOT, cluster, up_json
from tests.jobs.helpers import start_serve

CLIP = "bbb_720p_aac_5.1.mp4"     # real: H.264 720p 25 fps, AAC 5.1, 5.3 s
WAIT_S = 60.0


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A data dir with its cluster up, and the environment `cluster up` told us to use."""
    data = tmp_path_factory.mktemp("cluster-path")
    try:
        settings = up_json(data)["settings"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MINIFLIX_")}
        yield data, {**env, **settings, "PYTHONUNBUFFERED": "1"}
    finally:
        cluster(data, "down")


def main_py(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def published(running: tuple[Path, dict[str, str]], shared_media: Path) -> dict[str, Any]:
    data, env = running
    run = main_py(env, "ingest", str(shared_media / CLIP), "--data-dir", str(data), "--json")
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout.splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def server(running: tuple[Path, dict[str, str]], published: dict[str, Any]) -> Iterator[str]:
    data, env = running
    proc, url = start_serve(data, env)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def bus_events(event_log: str, topic: str) -> list[dict[str, Any]]:
    """Every event of `topic` on the JetStream bus (read as a fresh consumer group)."""
    from server.events.nats_log import open_nats_log

    got: list[dict[str, Any]] = []
    with open_nats_log(event_log, None) as log:  # type: ignore[arg-type]  # the data dir is unused
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            batch = log.poll("cluster-path-test", [topic], timeout=1.0)
            if not batch and got:
                break
            got += [e.value for e in batch]
    return got


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return json.load(reply)


def eventually(fetch: Callable[[], Any], check: Callable[[Any], bool], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while True:
        value = fetch()
        if check(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT_S:.0f} s waiting for {what}; last: {value!r}"[:2000])
        time.sleep(0.5)


def frames_decoded(url: str) -> int:
    """Decode the whole title from `url` with real ffmpeg; the number of video frames it read."""
    run = subprocess.run(["ffmpeg", "-v", "error", "-nostats", "-i", url, "-map", "0:v:0", "-f", "null", "-",
                          "-progress", "pipe:1"], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    return max(int(n) for n in re.findall(r"^frame=(\d+)$", run.stdout, re.M))


def test_ingest_publishes_to_s3_and_logs_to_the_bus(running: tuple[Path, dict[str, str]],
                                                     published: dict[str, Any]) -> None:
    data, env = running
    assert published["status"] == "published", published["error"]
    done = [e for e in bus_events(env["MINIFLIX_EVENT_LOG"], "encode") if e.get("type") == "task_done"]
    chunks = [e for e in done if e.get("task", "").startswith("chunk")]
    assert chunks and all(e.get("worker") for e in chunks), "each chunk names the Dask worker that encoded it"
    assert not list((data / "origin" / "videos").glob("*/master.m3u8")), "nothing published to local disk"
    events = main_py(env, "events", "--data-dir", str(data), "--json")
    assert events.returncode == 0, events.stderr
    rows = json.loads(events.stdout)
    assert sum(r["kept"] for r in rows if r["topic"] == "videos") > 0, rows


def test_play_through_an_edge_filled_from_s3_then_analytics_and_search(server: str,
                                                                      published: dict[str, Any]) -> None:
    health = get_json(f"{server}/api/health")
    assert health["backends"]["event_log"].startswith("nats://")
    assert health["backends"]["origin"].startswith("s3://miniflix")
    video_id = published["video_id"]
    title = get_json(f"{server}/api/titles/{video_id}")
    expected = round(title["duration"] * 25)
    assert frames_decoded(f"{server}/play/{video_id}/master.m3u8?region=eu-west") >= expected - 1
    eventually(lambda: get_json(f"{server}/api/analytics/cache_hit_ratio")["rows"],
               lambda rows: sum(r.get("requests", 0) for r in rows) > 0, "the edges' requests in analytics")
    eventually(lambda: get_json(f"{server}/api/search?q=bbb")["hits"],
               lambda hits: video_id in [h["video_id"] for h in hits], "the title in search")
