"""Jobs that crash end: long names publish, a bug in a step fails its job with the reason while the
queue goes on, a job that keeps killing its process is failed instead of resumed for ever, and a
killed packaging run's staging dir does not stay behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.engine import Engine
from server.jobs.locks import job_lock
from server.jobs.pipeline import Ingest, IngestOptions
from server.jobs.service import FINISHED, IngestService
from server.paths import DataDir
from server.storage.blobstore import LocalBlobStore
from tests.jobs.helpers import ROOT, events

OPTIONS = IngestOptions(workers=2, segment_seconds=1.0, retries=0, preset="ultrafast",
                        min_chunk_seconds=1.0)
CJK_NAME = "東京の夜景と雨の日の記録映像" * 6 + "_最終版.mp4"  # 90 characters, 268 bytes of UTF-8


def wait_finished(service: IngestService, job_id: str, limit_s: float = 180) -> str:
    """The job's final state (a bounded wait: a job that never ends fails the test)."""
    deadline = time.monotonic() + limit_s
    while (state := service.get(job_id).record.state) not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.1)
    return state


@pytest.mark.parametrize("name", [CJK_NAME, "b" * 396 + ".mov"], ids=["cjk-90", "ascii-400"])
def test_a_very_long_original_name_publishes_with_a_short_readable_source_name(
        tmp_path: Path, make_clip, name: str) -> None:
    clip = make_clip(seconds=2)
    data = DataDir.resolve(tmp_path / "d")
    with Engine(data) as engine:
        ingest = engine.ingest(OPTIONS)
        job = ingest.run(ingest.create_job(clip, original_name=name))
    assert job.state == "published", job.error
    [kept] = (data.origin / "videos" / job.video_id / "source").iterdir()
    assert len(kept.name.encode()) <= 255 and kept.suffix == Path(name).suffix
    assert name.startswith(kept.stem[:40]), "the kept name should still read like the original"
    assert kept.read_bytes() == clip.read_bytes()


def test_a_step_that_raises_fails_its_job_with_the_reason_and_the_queue_goes_on(
        tmp_path: Path, make_clip, monkeypatch: pytest.MonkeyPatch) -> None:
    keep_source = Ingest._keep_source

    def broken_for_one(self: Ingest, job, staging: Path) -> None:  # a bug in one step, for one job
        if job.original_name == "broken.mp4":
            raise KeyError("rendition 'nope'")
        keep_source(self, job, staging)

    monkeypatch.setattr(Ingest, "_keep_source", broken_for_one)
    data = DataDir.resolve(tmp_path / "d")
    with Engine(data) as engine:
        service = engine.ingest_service(OPTIONS)
        service.start()
        try:
            bad = service.submit(make_clip("a.mp4", seconds=2), "broken.mp4").record.job_id
            good = service.submit(make_clip("b.mp4", seconds=2), "fine.mp4").record.job_id
            assert wait_finished(service, bad) == "failed"
            assert wait_finished(service, good) == "published"
            shown = service.get(bad).to_dict()
        finally:
            service.stop()
    assert "failed unexpectedly" in shown["error"] and "KeyError" in shown["error"]
    assert "rendition 'nope'" in shown["error"]
    assert shown["stage"] == "failed" and shown["percent"] == 0, "a failed job must not look running"
    failures = [e for e in events(data.root, "videos") if e["type"] == "failed"]
    assert [e["job_id"] for e in failures] == [bad], "the failure is recorded once"
    assert not any((data.origin / ".staging").iterdir())


CRASHING_SERVER = """
import os, signal, sys, time
from pathlib import Path
from server.engine import Engine
from server.jobs import pipeline
from server.jobs.service import IngestService
from server.jobs.store import UNFINISHED
from server.paths import DataDir

def die(self, job, staging):  # this job takes the whole process down, every time it gets here
    os.kill(os.getpid(), signal.SIGKILL)

pipeline.Ingest._keep_source = die
data = DataDir.resolve(sys.argv[1])
options = pipeline.IngestOptions(workers=2, segment_seconds=1.0, retries=0, preset="ultrafast",
                                 min_chunk_seconds=1.0)
with Engine(data) as engine:
    service = engine.ingest_service(options)
    service.start()
    if len(sys.argv) > 2:
        service.submit(Path(sys.argv[2]))
    while service.ingest.store.list(UNFINISHED):
        time.sleep(0.05)
    service.stop()
"""


def test_a_job_that_kills_its_process_is_failed_after_the_crash_limit_not_resumed_for_ever(
        tmp_path: Path, make_clip) -> None:
    script = tmp_path / "crashing_service.py"
    script.write_text(CRASHING_SERVER)
    clip, data = make_clip(seconds=2), tmp_path / "d"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MINIFLIX_JOB_CRASH_LIMIT": "3"}
    codes = []
    for start in range(6):  # every start of the server resumes the unfinished job
        args = [sys.executable, str(script), str(data), *([str(clip)] if start == 0 else [])]
        run = subprocess.run(args, env=env, cwd=ROOT, timeout=240, capture_output=True, text=True)
        assert run.returncode in (0, -9), run.stderr
        codes.append(run.returncode)
        if codes[-1] == 0:
            break
    assert codes == [-9, -9, -9, 0]
    with Engine(DataDir.resolve(data)) as engine:
        [job] = engine.ingest(OPTIONS).store.list()
    assert job.state == "failed" and "stopped unexpectedly 3 times" in job.error


def test_staging_left_by_a_killed_packaging_run_is_removed_at_start_but_not_a_running_one(
        tmp_path: Path) -> None:
    data = DataDir.resolve(tmp_path / "d")
    store = LocalBlobStore(data.origin)
    killed, running = store.staging_dir("vdead0000001"), store.staging_dir("vlive0000001")
    for staging in (killed, running):
        (staging / "cmaf").mkdir()
        (staging / "cmaf" / "seg_00001.m4s").write_bytes(b"x" * 1000)
    with Engine(data) as engine, job_lock(data.work / "vlive0000001.lock", "a live job"):
        service = engine.ingest_service(OPTIONS)
        service.start()
        service.stop()
    assert not killed.exists()
    assert (running / "cmaf" / "seg_00001.m4s").is_file(), "a live packaging run lost its files"


def test_a_resumed_job_removes_the_staging_its_killed_run_left(tmp_path: Path, make_clip) -> None:
    data = DataDir.resolve(tmp_path / "d")
    with Engine(data) as engine:
        ingest = engine.ingest(OPTIONS)
        job = ingest.create_job(make_clip(seconds=2))
        left = ingest.blobs.staging_dir(job.video_id)  # as a run killed while packaging leaves it
        (left / "master.m3u8").write_text("#EXTM3U\n")
        assert ingest.run(job).state == "published"
    assert not any((data.origin / ".staging").iterdir())
