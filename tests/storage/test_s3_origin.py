"""The S3 origin on a real SeaweedFS server: a title appears whole or not at all, reads are Range
GETs with the bucket's ETags, delete can be undone, and a bad setting is refused before any work."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from server.cluster.process import free_port
from server.cluster.seaweed import SeaweedServer
from server.engine import Engine
from server.errors import Forbidden, InvalidRequest, NotFound
from server.paths import DataDir
from server.registry import BadSetting
from server.storage.s3 import S3BlobStore, open_s3_origin
from tests.jobs.helpers import cli
from tests.storage.conftest import bucket_client, bucket_of


def title_files(folder: Path, version: str, extra: str = "") -> Path:
    """A small title folder: playlists, two segments and (optionally) one more file."""
    (folder / "cmaf" / "360p").mkdir(parents=True, exist_ok=True)
    (folder / "master.m3u8").write_text(f"#EXTM3U\n# {version}\n")
    for n in (1, 2):
        (folder / "cmaf" / "360p" / f"seg_0000{n}.m4s").write_bytes(f"{version}-seg{n}-".encode() * 100)
    if extra:
        (folder / extra).write_text(version)
    return folder


def publish(store: S3BlobStore, folder: Path, prefix: str = "videos/v1") -> None:
    staging = store.stage(prefix)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        staging.add_file(path.relative_to(folder).as_posix(), path)
    staging.commit()


def bucket_keys(seaweed: SeaweedServer, url: str) -> list[str]:
    listed = bucket_client(seaweed).list_objects_v2(Bucket=bucket_of(url))
    return [o["Key"] for o in listed.get("Contents", [])]


def test_a_staged_title_is_invisible_until_commit_and_a_republish_replaces_it_whole(
        s3_store: S3BlobStore, tmp_path: Path, seaweed: SeaweedServer, s3_url: str) -> None:
    first = title_files(tmp_path / "one", "one", extra="only-in-one.txt")
    staging = s3_store.stage("videos/v1")
    for rel in ("master.m3u8", "cmaf/360p/seg_00001.m4s"):
        staging.add_file(rel, first / rel)
    assert not s3_store.exists("videos/v1/master.m3u8") and list(s3_store.list("videos")) == []
    for rel in ("cmaf/360p/seg_00002.m4s", "only-in-one.txt"):
        staging.add_file(rel, first / rel)
    staging.commit()
    assert s3_store.read("videos/v1/master.m3u8") == b"#EXTM3U\n# one\n"
    assert len(list(s3_store.list("videos/v1"))) == 4
    publish(s3_store, title_files(tmp_path / "two", "two"))
    assert s3_store.read("videos/v1/master.m3u8") == b"#EXTM3U\n# two\n"
    assert not s3_store.exists("videos/v1/only-in-one.txt")
    two = [p for p in (tmp_path / "two").rglob("*") if p.is_file()]
    assert s3_store.size("videos/v1") == sum(p.stat().st_size for p in two)
    # the replaced generation is gone from the bucket, not just hidden
    assert not [k for k in bucket_keys(seaweed, s3_url) if k.endswith("only-in-one.txt")]


def test_reads_are_ranges_and_etags_change_with_content(s3_store: S3BlobStore, tmp_path: Path) -> None:
    folder = title_files(tmp_path / "one", "one")
    publish(s3_store, folder)
    whole = (folder / "cmaf/360p/seg_00001.m4s").read_bytes()
    key = "videos/v1/cmaf/360p/seg_00001.m4s"
    with s3_store.open(key, 100, 50) as part:
        assert part.read() == whole[100:150]
    stat = s3_store.stat(key)
    assert stat.size == len(whole) and stat.etag == hashlib.md5(whole).hexdigest()
    publish(s3_store, title_files(tmp_path / "two", "two"))
    assert s3_store.stat(key).etag != stat.etag


def test_keys_cannot_reach_staging_pointers_or_generations(s3_store: S3BlobStore, tmp_path: Path) -> None:
    publish(s3_store, title_files(tmp_path / "one", "one"))
    generation = s3_store._manifest("videos/v1", fresh=True).generation  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        s3_store.read(f"videos/v1/{generation}/master.m3u8")
    for key in (".pointers/videos/v1", ".trash/x", "videos/../.pointers/videos/v1"):
        with pytest.raises(Forbidden):
            s3_store.read(key)
        assert not s3_store.exists(key)


def test_delete_goes_to_the_trash_and_undo_brings_the_title_back(s3_store: S3BlobStore,
                                                                tmp_path: Path) -> None:
    publish(s3_store, title_files(tmp_path / "one", "one"))
    token = s3_store.trash("videos/v1")
    assert not s3_store.exists("videos/v1/master.m3u8") and list(s3_store.list("videos")) == []
    s3_store.restore(token, "videos/v1")
    assert s3_store.read("videos/v1/master.m3u8") == b"#EXTM3U\n# one\n"
    with pytest.raises(NotFound):
        s3_store.restore(token, "videos/v1")
    token = s3_store.trash("videos/v1")
    assert s3_store.purge_trash(older_than_s=-1) == 1
    with pytest.raises(NotFound):
        s3_store.restore(token, "videos/v1")


def test_an_aborted_publish_and_a_killed_ones_leftovers_are_removed(
        s3_store: S3BlobStore, tmp_path: Path, seaweed: SeaweedServer, s3_url: str) -> None:
    folder = title_files(tmp_path / "one", "one")
    publish(s3_store, folder)
    aborted = s3_store.stage("videos/v1")
    aborted.add_file("master.m3u8", folder / "master.m3u8")
    aborted.abort()
    # a generation with no pointer, as a process killed mid-upload leaves it
    s3_store.s3.upload(folder / "master.m3u8", "videos/v1/@20260101T000000-deadbeef/master.m3u8")
    before = len(bucket_keys(seaweed, s3_url))
    assert s3_store.discard_stale_staging(lambda video_id: video_id == "v1") == ()
    assert s3_store.discard_stale_staging(lambda video_id: False) == ("v1",)
    assert len(bucket_keys(seaweed, s3_url)) == before - 1
    assert s3_store.read("videos/v1/master.m3u8") == b"#EXTM3U\n# one\n"   # the live title stays


def test_a_big_segment_goes_up_in_parts_and_comes_back_whole(s3_store: S3BlobStore, tmp_path: Path) -> None:
    big = tmp_path / "big.m4s"
    big.write_bytes(os.urandom(19 * 1024 * 1024))
    staging = s3_store.stage("videos/big")
    staging.add_file("cmaf/1080p/seg_00001.m4s", big)
    staging.commit()
    stat = s3_store.stat("videos/big/cmaf/1080p/seg_00001.m4s")
    assert stat.size == big.stat().st_size and "-" in stat.etag   # a multipart ETag: "<md5>-<parts>"
    assert hashlib.sha256(s3_store.read(stat.key)).digest() == hashlib.sha256(big.read_bytes()).digest()


@pytest.mark.parametrize("case, words", [
    ("unknown bucket", "does not exist"),
    ("wrong credentials", "refused these credentials"),
    ("unreachable endpoint", "cannot reach the S3 endpoint"),
])
def test_a_bad_s3_setting_is_one_clear_error_naming_it(case: str, words: str, s3_url: str,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    url = {"unknown bucket": s3_url.replace("s3://t-", "s3://missing-"),
           "wrong credentials": s3_url,
           "unreachable endpoint": s3_url.rsplit(":", 1)[0] + f":{free_port()}"}[case]
    if case == "wrong credentials":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    monkeypatch.setenv("MINIFLIX_ORIGIN", url)
    with pytest.raises(BadSetting) as refused:
        _ = Engine(DataDir.resolve(tmp_path / "d")).origin
    assert refused.value.message.startswith(f"MINIFLIX_ORIGIN={url!r}") and words in refused.value.message


def test_ingest_with_a_bad_s3_setting_stops_before_any_work(s3_url: str, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path, make_clip) -> None:
    clip = make_clip("clip.mp4", seconds=1, size="160x90")
    bad = s3_url.replace("s3://t-", "s3://missing-")
    run = cli("ingest", str(clip), "--data-dir", str(tmp_path / "d"), env={"MINIFLIX_ORIGIN": bad})
    assert run.returncode == 2 and "MINIFLIX_ORIGIN" in run.stderr and "does not exist" in run.stderr
    assert not (tmp_path / "d" / "work").exists() or not any((tmp_path / "d" / "work").iterdir())
    assert "published" not in run.stdout


def test_origin_url_is_parsed_and_checked(s3_url: str) -> None:
    with pytest.raises(Exception, match="unknown option"):
        open_s3_origin(s3_url + "&colour=blue", None)


def test_scratch_objects_are_deleted_by_prefix_but_titles_only_go_to_the_trash(
        s3_store: S3BlobStore, tmp_path: Path) -> None:
    publish(s3_store, title_files(tmp_path / "one", "one"))
    for n in range(3):
        s3_store.put(f"work/j1/chunk-{n}.mp4", b"chunk")
    s3_store.put("work/j2/chunk-0.mp4", b"other job")
    assert s3_store.delete("work/j1") == 3
    assert list(s3_store.list("work")) == ["work/j2/chunk-0.mp4"]
    with pytest.raises(InvalidRequest):
        s3_store.delete("videos/v1")
    assert s3_store.exists("videos/v1/master.m3u8")
