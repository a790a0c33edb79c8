"""Chunk encodes on a real Dask cluster with the origin on S3 (a real SeaweedFS server): the workers'
ffmpeg reads the source out of the bucket by a presigned URL, seeking with Range (no worker copies
the whole source), and the workers put their chunks into it; nothing of the job's work stays there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import psutil
import pytest

from server.cluster.dask import DaskCluster
from server.cluster.seaweed import SeaweedServer
from server.engine import Engine
from server.jobs.pipeline import IngestOptions
from server.jobs.progress import JobProgress
from server.jobs.remote_chunk import unsigned
from server.jobs.store import PUBLISHED
from tests.conftest import generate_clip
from tests.jobs.helpers import events

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    server = SeaweedServer(tmp_path_factory.mktemp("seaweed")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, seaweed: SeaweedServer) -> Iterator[DaskCluster]:
    """Workers started with the bucket's credentials in their environment, as boto3 reads them."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in seaweed.env().items():
            env.setenv(name, value)
        dask = DaskCluster(tmp_path_factory.mktemp("dask"), workers=2).start()
    try:
        yield dask
    finally:
        dask.stop()


class WorkerWatch:
    """Looks at the workers while they encode: what is in their scratch dirs, what ffmpeg reads."""

    def __init__(self, cluster: DaskCluster) -> None:
        self.cluster = cluster
        self.scratch_files: set[str] = set()
        self.inputs: set[str] = set()

    def __call__(self, progress: JobProgress) -> None:
        for index in range(self.cluster.workers):
            self.scratch_files |= {p.name for p in self.cluster.scratch(index).rglob("*") if p.is_file()}
            worker = self.cluster.worker_processes[index]
            for child in psutil.Process(worker.pid).children(recursive=True) if worker else []:
                try:
                    argv = child.cmdline()
                except psutil.Error:   # ended meanwhile
                    continue
                if child.name() == "ffmpeg" and "-i" in argv:
                    self.inputs.add(argv[argv.index("-i") + 1])


def test_workers_move_the_title_through_an_s3_origin(seaweed: SeaweedServer, cluster: DaskCluster,
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    seaweed.create_bucket(bucket)
    for name, value in {**seaweed.env(), "MINIFLIX_ORIGIN": seaweed.origin_url(bucket),
                        "MINIFLIX_EXECUTOR": cluster.executor_setting}.items():
        monkeypatch.setenv(name, value)
    clip = generate_clip(tmp_path / "s3.mp4", seconds=12, size="480x270")
    with Engine.open(str(tmp_path / "d")) as engine:
        pipeline = engine.ingest(IngestOptions.from_settings(preset="ultrafast", segment_seconds=2,
                                                             min_chunk_seconds=1, workers=2))
        watch = WorkerWatch(cluster)
        job = pipeline.run(pipeline.create_job(clip), report=watch)
        assert job.state == PUBLISHED, job.error
        assert [r["frames"] for r in job.result["renditions"]] == [300] * len(job.result["renditions"])
        assert engine.origin.exists(job.result["master"])
    in_bucket = seaweed.s3_endpoint + f"/{bucket}/work/"
    assert watch.inputs and all(i.startswith(in_bucket) for i in watch.inputs), \
        f"the workers' ffmpeg did not read the source from the bucket: {watch.inputs}"
    assert not [n for n in watch.scratch_files if n.startswith("source")], \
        f"a worker copied the source into its scratch dir: {watch.scratch_files}"
    done = [e for e in events(tmp_path / "d", "encode") if e["type"] == "task_done"
            and e["task"].startswith("chunk-")]
    assert len(done) >= 2 and {e["worker"] for e in done} <= {"worker-0", "worker-1"}
    s3 = boto3.client("s3", endpoint_url=seaweed.s3_endpoint, region_name="us-east-1",
                      aws_access_key_id=seaweed.access_key, aws_secret_access_key=seaweed.secret_key)
    left = s3.list_objects_v2(Bucket=bucket, Prefix="work/").get("Contents", [])
    assert left == [], "the job's work objects stayed in the bucket"


def test_a_failed_chunk_names_the_source_object_not_its_signed_url() -> None:
    """ffmpeg names its input in its errors; a presigned URL's signature must not reach the job."""
    url = "http://127.0.0.1:8333/b/work/v1/source.mp4?X-Amz-Credential=K&X-Amz-Signature=abc123"
    said = f"{url}: Server returned 403 Forbidden (access denied)"
    shown = unsigned(said, url, "work/v1/source.mp4")
    assert "X-Amz" not in shown and "origin object 'work/v1/source.mp4'" in shown
