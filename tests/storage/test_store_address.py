"""What a distributed executor needs from a blob store, on the folder store and on a real SeaweedFS
bucket: the store names itself (`address()`), so another process reopens the same store through the
origin registry; files go in and come out whole (hard-linked when the store is a folder on the same
disk, never a copy of a big source); an S3 object can be read by URL, with Range, by any client."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from server.engine import Engine
from server.errors import NotFound
from server.jobs.remote_chunk import open_store
from server.registry import BadSetting
from server.storage.blobstore import LocalBlobStore
from server.storage.s3 import S3BlobStore

BODY = bytes(range(256)) * 64


def test_a_folder_store_is_reopened_from_its_address(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "an origin with spaces")
    store.put("work/v1/source.mp4", BODY)
    again = open_store(store.address())
    assert isinstance(again, LocalBlobStore) and again.root == store.root
    assert again.read("work/v1/source.mp4") == BODY


def test_a_folder_store_links_files_in_and_out_without_copying(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "origin")
    source = tmp_path / "title.mp4"
    source.write_bytes(BODY)
    store.put_file("work/v1/source.mp4", source)
    assert store.read("work/v1/source.mp4") == BODY
    assert store.path("work/v1/source.mp4").stat().st_ino == source.stat().st_ino, "copied, not linked"
    scratch = tmp_path / "worker" / "source"
    scratch.parent.mkdir()
    store.get_file("work/v1/source.mp4", scratch)
    assert scratch.read_bytes() == BODY and scratch.stat().st_ino == source.stat().st_ino
    assert store.read_url("work/v1/source.mp4", 60) is None, "a folder hands out files, not URLs"
    assert sorted(p.name for p in scratch.parent.iterdir()) == ["source"], "a temp file stayed"


def test_getting_a_missing_object_leaves_no_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "origin")
    with pytest.raises(NotFound):
        store.get_file("work/v1/nothing.mp4", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_s3_store_is_reopened_from_its_address_without_credentials_in_it(
        s3_store: S3BlobStore, tmp_path: Path) -> None:
    address = s3_store.address()
    assert address.startswith(f"s3://{s3_store.s3.bucket}?") and "secret" not in address.lower()
    s3_store.put("work/v1/source.mp4", BODY)
    again = open_store(address)
    assert isinstance(again, S3BlobStore) and again.read("work/v1/source.mp4") == BODY


def test_an_s3_store_takes_and_gives_whole_files(s3_store: S3BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "title.mp4"
    source.write_bytes(BODY)
    s3_store.put_file("work/v1/source.mp4", source)
    s3_store.get_file("work/v1/source.mp4", tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == BODY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "title.mp4"], "a temp file stayed"


def test_an_s3_object_is_read_by_url_with_range(s3_store: S3BlobStore) -> None:
    """What ffmpeg on a worker does with a source: GET parts of it by a presigned URL."""
    s3_store.put("work/v1/source.mp4", BODY)
    url = s3_store.read_url("work/v1/source.mp4", 300)
    assert url is not None
    asked = urllib.request.Request(url, headers={"Range": "bytes=1000-1999"})
    with urllib.request.urlopen(asked, timeout=10) as reply:
        assert reply.status == 206 and reply.read() == BODY[1000:2000]
    with pytest.raises(NotFound):
        s3_store.read_url("work/v1/nothing.mp4", 300)


def test_a_folder_origin_setting_opens_that_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared disk" / "origin"
    monkeypatch.setenv("MINIFLIX_ORIGIN", LocalBlobStore(shared).address())
    with Engine.open(str(tmp_path / "d")) as engine:
        engine.origin.put("work/v1/a", b"x")
    assert (shared / "work" / "v1" / "a").read_bytes() == b"x"
    assert not (tmp_path / "d" / "origin" / "work").exists()


def test_a_folder_origin_without_a_path_is_refused_naming_the_setting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIFLIX_ORIGIN", "folder")
    with pytest.raises(BadSetting, match=r"MINIFLIX_ORIGIN='folder': want folder:///PATH"):
        assert Engine.open(str(tmp_path / "d")).origin
