"""Chunk encodes on a real Dask cluster with the origin on S3 (a real SeaweedFS server): the workers
copy the source out of the bucket and put their chunks into it; nothing of the job's work stays there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from server.cluster.dask import DaskCluster
from server.cluster.seaweed import SeaweedServer
from server.engine import Engine
from server.jobs.pipeline import IngestOptions
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
        job = pipeline.run(pipeline.create_job(clip))
        assert job.state == PUBLISHED, job.error
        assert [r["frames"] for r in job.result["renditions"]] == [300] * len(job.result["renditions"])
        assert engine.origin.exists(job.result["master"])
    done = [e for e in events(tmp_path / "d", "encode") if e["type"] == "task_done"
            and e["task"].startswith("chunk-")]
    assert len(done) >= 2 and {e["worker"] for e in done} <= {"worker-0", "worker-1"}
    s3 = boto3.client("s3", endpoint_url=seaweed.s3_endpoint, region_name="us-east-1",
                      aws_access_key_id=seaweed.access_key, aws_secret_access_key=seaweed.secret_key)
    left = s3.list_objects_v2(Bucket=bucket, Prefix="work/").get("Contents", [])
    assert left == [], "the job's work objects stayed in the bucket"
