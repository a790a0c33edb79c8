"""The origin store: keys cannot leave the root, publishing is all-or-nothing, delete can be undone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from server.errors import Forbidden, InvalidRequest, NotFound
from server.storage.blobstore import LocalBlobStore, safe_key, title_prefix


@pytest.mark.parametrize("key", ["../etc/passwd", "videos/../../x", "/etc/passwd", "videos\\a",
                                 "videos/.staging/x", "a\x00b", "", "C:/windows"])
def test_keys_that_leave_the_root_are_refused(key: str) -> None:
    with pytest.raises(Forbidden):
        safe_key(key)


def test_symlink_inside_the_store_is_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "origin")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", store.root / "videos" / "link.txt")
    with pytest.raises(Forbidden):
        store.read("videos/link.txt")


def test_put_read_stat_and_etag_changes_with_content(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("videos/a/x.txt", b"one")
    first = store.stat("videos/a/x.txt")
    store.put("videos/a/x.txt", b"three")
    assert store.read("videos/a/x.txt") == b"three"
    assert store.stat("videos/a/x.txt").etag != first.etag
    with pytest.raises(NotFound):
        store.stat("videos/a/missing.txt")


def test_publish_dir_appears_whole_and_replaces_older_copy(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    for version in (b"v1", b"v2"):
        staging = store.staging_dir("vid1")
        (staging / "cmaf").mkdir()
        (staging / "cmaf" / "seg.m4s").write_bytes(version)
        assert not store.exists("videos/vid1/cmaf/seg.m4s") or version == b"v2"
        store.publish_dir(staging, title_prefix("vid1"))
    assert store.read("videos/vid1/cmaf/seg.m4s") == b"v2"
    assert list(store.list("videos/vid1")) == ["videos/vid1/cmaf/seg.m4s"]
    assert not any((tmp_path / ".staging").iterdir())


def test_trash_and_restore_undo_a_delete(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("videos/vid2/master.m3u8", b"#EXTM3U")
    token = store.trash("videos/vid2")
    assert not store.exists("videos/vid2/master.m3u8")
    store.restore(token, "videos/vid2")
    assert store.read("videos/vid2/master.m3u8") == b"#EXTM3U"


def test_discard_stale_staging_removes_only_what_no_build_uses(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    stale, live = store.staging_dir("v-old"), store.staging_dir("vlive")
    (stale / "cmaf").mkdir()
    (stale / "cmaf" / "seg.m4s").write_bytes(b"x")
    assert store.discard_stale_staging(lambda name: name == "vlive") == ("v-old",)
    assert not stale.exists() and live.is_dir()


def test_delete_removes_a_scratch_prefix_whole(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    for n in range(3):
        store.put(f"work/j1/chunk-{n}.mp4", b"chunk")
    store.put("work/j2/chunk-0.mp4", b"other job")
    assert store.delete("work/j1") == 3
    assert list(store.list("work")) == ["work/j2/chunk-0.mp4"]
    store.put("videos/v1/master.m3u8", b"#EXTM3U\n")
    with pytest.raises(InvalidRequest):
        store.delete("videos/v1")
    assert store.exists("videos/v1/master.m3u8")
