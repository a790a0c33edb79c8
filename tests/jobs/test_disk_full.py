"""A full disk, on a real 20 MB filesystem (tmpfs): the job fails saying so and stays retryable,
the failure is recorded, and reading the catalog, the jobs and playing a healthy title still work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.cdn.cluster import CDN
from server.cdn.origin import StoreOrigin
from server.cdn.steering import Steering
from server.cdn.topology import Topology
from server.diskspace import is_out_of_space
from server.engine import Engine
from server.errors import JobError
from server.http.app import create_app
from server.http.services import Services
from server.jobs.pipeline import IngestOptions
from server.jobs.service import FINISHED, IngestService
from server.media import ffmpeg
from server.paths import DataDir
from tests.jobs.helpers import fill, mounted_small_disk

OPTIONS = IngestOptions(workers=2, segment_seconds=1.0, retries=0, preset="ultrafast",
                        min_chunk_seconds=1.0)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_small_disk(tmp_path / "disk") as disk:
        yield disk


def wait_finished(service: IngestService, job_id: str, limit_s: float = 180) -> str:
    deadline = time.monotonic() + limit_s
    while (state := service.get(job_id).record.state) not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.1)
    return state


def start_services(data: DataDir) -> Services:
    """The server's services over `data`, opened while the disk still had room (a running server)."""
    engine = Engine(data)
    services = Services(data=data, catalog=engine.catalog, store=engine.origin, events=engine.events).start()
    services.cdn = CDN(Topology.default(), StoreOrigin(services.store), data, services.events)
    services.steering = Steering(services.cdn, services.events)
    services.ingest = engine.ingest_service(OPTIONS)
    for name in ("cdn", "ingest"):
        getattr(services, name).start()
        services.started.append(name)
    return services


def test_a_disk_that_fills_mid_ingest_fails_the_job_as_disk_full_and_reads_still_answer(
        small_disk: Path, make_clip, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIFLIX_MIN_FREE_MB", "1")  # let the job start on this tiny disk
    data = DataDir.resolve(small_disk / "data")
    services = start_services(data)
    # Built before any job runs: werkzeug compiles routes with `ast`, whose recursion guard is shared
    # by every thread in CPython 3.11 ("AST constructor recursion depth mismatch" under a race).
    client = create_app(services).test_client()
    try:
        healthy = services.ingest.submit(make_clip("healthy.mp4", seconds=2))
        assert wait_finished(services.ingest, healthy.record.job_id) == "published"
        fill(small_disk, leave=1536 * 1024)  # room to encode, none to package and keep the source
        big = make_clip("big.mp4", seconds=8, size="640x360")
        job_id = services.ingest.submit(big).record.job_id
        assert wait_finished(services.ingest, job_id) == "failed"
        failed = services.ingest.get(job_id).record
        assert failed.error.startswith(f"Out of disk space in {data.root} (")
        assert " MB free" in failed.error
        assert not any((data.origin / ".staging").iterdir())

        fill(small_disk)  # and now nothing at all is free
        video_id = healthy.record.video_id
        titles = client.get("/api/titles")
        assert titles.status_code == 200, titles.get_data(as_text=True)
        assert [t["video_id"] for t in titles.get_json()["titles"]] == [video_id]
        jobs = client.get("/api/jobs")
        assert jobs.status_code == 200, jobs.get_data(as_text=True)
        assert {j["state"] for j in jobs.get_json()["jobs"]} == {"published", "failed"}
        assert client.get(f"/api/titles/{video_id}").status_code == 200
        steer = client.get(f"/steer/{video_id}")
        assert steer.status_code == 200, steer.get_data(as_text=True)
        play = client.get(f"/play/{video_id}/master.m3u8")
        assert play.status_code == 302, play.get_data(as_text=True)
    finally:
        services.stop()


def test_a_job_that_cannot_find_the_free_space_it_needs_fails_before_it_starts_and_can_be_retried(
        small_disk: Path, make_clip) -> None:
    data = DataDir.resolve(small_disk / "data")
    with Engine(data) as engine:
        ingest = engine.ingest(OPTIONS)
        job = ingest.run(ingest.create_job(make_clip(seconds=2)))  # min_free_mb: 256 by default
        assert job.state == "failed"
        assert job.error.startswith(f"Out of disk space in {data.root} (")
        assert "this needs at least 256 MB" in job.error  # the floor (and a tiny source to copy)
        assert not (data.work / job.video_id).exists(), "nothing was encoded"
        service = engine.ingest_service(OPTIONS)
        assert service.retry(job.job_id).record.state == "queued"


def test_ffmpeg_and_python_running_out_of_space_are_both_told_apart_as_a_full_disk(
        small_disk: Path, make_clip) -> None:
    clip = make_clip(seconds=2)
    fill(small_disk)
    with pytest.raises(JobError) as ffmpeg_failed:
        ffmpeg.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip), "-c", "copy",
                    str(small_disk / "copy.mp4")], "copying the clip")
    with pytest.raises(OSError) as python_failed:
        (small_disk / "note.txt").write_bytes(b"x" * 65536)
    for failure in (ffmpeg_failed.value, python_failed.value):
        assert is_out_of_space(failure), failure
    assert not is_out_of_space(JobError("chunk 3 failed: x264 [error]: broken stream"))
