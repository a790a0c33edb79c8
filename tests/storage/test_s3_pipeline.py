"""The whole path on the S3 origin (a real SeaweedFS server): a real clip is ingested and published
to the bucket, played through an edge and the HTTP origin (Range, ETag revalidation), deleted and
restored; S3 stopped mid-publish leaves nothing visible and a rerun completes; S3 stopped while an
edge holds an expired copy still serves that copy."""

from __future__ import annotations

import http.client
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server.cdn.clock import ManualClock
from server.cdn.edge import EdgeNode
from server.cdn.origin import StoreOrigin
from server.cdn.tokens import Signer
from server.cluster.seaweed import SeaweedServer
from server.engine import Engine
from server.http.app import create_app
from server.http.runner import HttpServer
from server.http.services import Services
from server.jobs.pipeline import IngestOptions
from server.paths import DataDir
from server.storage.s3 import S3BlobStore, S3Staging, open_s3_origin
from tests.cdn.conftest import SPEC, Recorder, fetch
from tests.storage.conftest import bucket_client, bucket_of

CLIP = "iphone_rotated_-90.mov"     # 2.2 s, rotated: the real pipeline's harder path
OPTIONS = IngestOptions(workers=2, segment_seconds=1.0, retries=0, preset="ultrafast", min_chunk_seconds=1.0)


@pytest.fixture
def clip(shared_media: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(shared_media / CLIP, tmp_path / CLIP))


@pytest.fixture
def engine(s3_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose origin is the test's bucket (MINIFLIX_ORIGIN, set by `s3_url`)."""
    with Engine(DataDir.resolve(tmp_path / "data")) as built:
        yield built


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_edge(tmp_path: Path, clock: ManualClock) -> Iterator[Callable[[StoreOrigin], EdgeNode]]:
    """`make_edge(origin)`: a started edge on a free port filling from `origin`, stopped at teardown."""
    made: list[EdgeNode] = []

    def make(origin: StoreOrigin) -> EdgeNode:
        node = EdgeNode(SPEC, origin, tmp_path / "edge", Signer(b"k" * 32), Recorder(), clock)
        node.start()
        made.append(node)
        return node

    yield make
    for node in made:
        node.close()


def origin_get(server: HttpServer, key: str,
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", f"/origin/{key}", headers=headers or {})
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


def test_a_real_clip_is_published_to_s3_played_through_an_edge_deleted_and_restored(
        engine: Engine, clip: Path, make_edge: Callable[[StoreOrigin], EdgeNode], clock: ManualClock) -> None:
    ingest = engine.ingest(OPTIONS)
    job = ingest.run(ingest.create_job(clip))
    assert job.state == "published", job.error
    store, prefix = engine.origin, f"videos/{job.video_id}"
    assert isinstance(store, S3BlobStore) and job.result["master"] == f"{prefix}/master.m3u8"
    assert not any(engine.data.origin.rglob("*.m4s")), "nothing of the title on local disk"
    assert json.loads(store.read(job.result["integrity"]))["ok"]
    assert engine.catalog.get(job.video_id).size_bytes == store.size(prefix) > 0
    segment = next(k for k in store.list(prefix) if k.endswith(".m4s")).removeprefix(prefix + "/")
    whole = store.read(f"{prefix}/{segment}")

    origin = StoreOrigin(store)
    node = make_edge(origin)
    status, headers, body = fetch(node.url_for(job.video_id, "master.m3u8"))
    assert (status, headers["X-Cache"], body) == (200, "MISS", store.read(job.result["master"]))
    status, headers, body = fetch(node.url_for(job.video_id, segment), {"Range": "bytes=10-109"})
    assert status == 206 and body == whole[10:110]
    clock.advance(SPEC.ttl_s + 1)
    fetches = origin.fetches
    status, headers, body = fetch(node.url_for(job.video_id, segment))
    assert (status, headers["X-Cache"], body) == (200, "HIT", whole)
    assert origin.fetches == fetches        # revalidated by ETag, not fetched again

    services = Services(data=engine.data, catalog=engine.catalog, store=store, events=engine.events)
    api = create_app(services, {"TESTING": True}).test_client()
    assert api.delete(f"/api/titles/{job.video_id}").status_code == 200
    assert api.get(f"/origin/{job.result['mpd']}").status_code == 404
    assert fetch(node.url_for(job.video_id, "manifest.mpd"))[0] == 404
    assert api.post(f"/api/titles/{job.video_id}/restore").status_code == 200
    assert api.get(f"/origin/{job.result['mpd']}").status_code == 200
    assert fetch(node.url_for(job.video_id, "manifest.mpd"))[0] == 200


def test_the_http_origin_streams_s3_objects_with_range_and_304(engine: Engine, s3_store: S3BlobStore,
                                                               tmp_path: Path) -> None:
    segment = tmp_path / "seg.m4s"
    segment.write_bytes(bytes(range(256)) * 40)
    staging = s3_store.stage("videos/v2")
    staging.add_file("cmaf/360p/seg_00001.m4s", segment)
    staging.commit()
    services = Services(data=engine.data, catalog=engine.catalog, store=engine.origin, events=engine.events)
    key = "videos/v2/cmaf/360p/seg_00001.m4s"
    with HttpServer(create_app(services, {"TESTING": True}), on_stop=services.stopping) as server:
        status, headers, body = origin_get(server, key, {"Range": "bytes=1000-1099"})
        assert status == 206 and body == segment.read_bytes()[1000:1100]
        assert headers["content-range"] == f"bytes 1000-1099/{segment.stat().st_size}"
        status, headers, body = origin_get(server, key)
        assert status == 200 and body == segment.read_bytes()
        assert origin_get(server, key, {"If-None-Match": headers["etag"]})[0] == 304


def test_s3_stopped_mid_publish_shows_nothing_and_a_rerun_completes(
        engine: Engine, clip: Path, seaweed: SeaweedServer, s3_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    uploaded: list[str] = []
    real_add = S3Staging.add_file

    def add_then_stop_s3(self: S3Staging, rel: str, local: Path) -> None:
        real_add(self, rel, local)
        uploaded.append(rel)
        if len(uploaded) == 3:
            seaweed.kill()

    monkeypatch.setattr(S3Staging, "add_file", add_then_stop_s3)
    ingest = engine.ingest(OPTIONS)
    try:
        job = ingest.run(ingest.create_job(clip))
        assert job.state == "failed" and "S3 origin" in job.error
    finally:
        seaweed.restart()
    monkeypatch.setattr(S3Staging, "add_file", real_add)
    fresh = open_s3_origin(s3_url, None)
    assert list(fresh.list("videos")) == [] and not fresh.exists(f"videos/{job.video_id}/master.m3u8")

    job = ingest.run(ingest.store.get(job.job_id))
    assert job.state == "published", job.error
    assert fresh.read(job.result["master"]).startswith(b"#EXTM3U")
    listed = bucket_client(seaweed).list_objects_v2(Bucket=bucket_of(s3_url),
                                                    Prefix=f"videos/{job.video_id}/")["Contents"]
    generations = {item["Key"].split("/")[2] for item in listed}
    assert len(generations) == 1, "the failed attempt's uploads were collected"


def test_s3_stopped_while_an_edge_holds_an_expired_copy_still_serves_it(
        s3_store: S3BlobStore, seaweed: SeaweedServer, make_edge: Callable[[StoreOrigin], EdgeNode],
        clock: ManualClock, tmp_path: Path) -> None:
    segment = tmp_path / "seg.m4s"
    segment.write_bytes(b"segment bytes " * 500)
    staging = s3_store.stage("videos/v3")
    for rel in ("cmaf/360p/seg_00001.m4s", "cmaf/360p/seg_00002.m4s"):
        staging.add_file(rel, segment)
    staging.commit()
    node = make_edge(StoreOrigin(S3BlobStore(s3_store.s3, pointer_ttl_s=0)))   # every check asks S3
    url = node.url_for("v3", "cmaf/360p/seg_00001.m4s")
    assert fetch(url)[1]["X-Cache"] == "MISS"
    seaweed.stop()
    try:
        clock.advance(SPEC.ttl_s + 1)
        status, headers, body = fetch(url)
        assert (status, headers["X-Cache"], body) == (200, "STALE", segment.read_bytes())
        status, _, body = fetch(node.url_for("v3", "cmaf/360p/seg_00002.m4s"))   # never cached
        assert status == 502 and json.loads(body)["error"] == "OriginError"
    finally:
        seaweed.restart()
