"""`main.py origin migrate`: a file origin copied to S3 (a real SeaweedFS server) and back, object by
object, with progress on stderr; a rerun copies only what changed."""

from __future__ import annotations

import os
from pathlib import Path

from server.storage.blobstore import LocalBlobStore
from server.storage.s3 import open_s3_origin
from tests.jobs.helpers import cli

TITLES = {
    "videos/va": {"master.m3u8": b"#EXTM3U\n", "cmaf/360p/seg_00001.m4s": os.urandom(9 * 1024 * 1024)},
    "videos/vb": {"manifest.mpd": b"<MPD/>", "thumbs/poster.jpg": os.urandom(5000)},
}


def local_origin(root: Path) -> LocalBlobStore:
    """A file origin holding TITLES, each published whole."""
    store = LocalBlobStore(root)
    for prefix, files in TITLES.items():
        staging = store.stage(prefix)
        for rel, body in files.items():
            scratch = root.parent / "scratch" / prefix / rel
            scratch.parent.mkdir(parents=True, exist_ok=True)
            scratch.write_bytes(body)
            staging.add_file(rel, scratch)
        staging.commit()
    return store


def contents(store, prefix: str = "videos") -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    return {key: store.read(key) for key in store.list(prefix)}


def test_migrate_to_s3_and_back_verifies_every_object_and_reruns_copy_only_changes(
        s3_url: str, tmp_path: Path) -> None:
    source = local_origin(tmp_path / "d" / "origin")
    run = cli("origin", "migrate", "--to", s3_url, "--data-dir", str(tmp_path / "d"))
    assert run.returncode == 0, run.stderr
    assert "origin migrate: 1/2 videos/va: copied 2 objects" in run.stderr and "verified" in run.stderr
    assert run.stdout.startswith("2 title(s) copied")
    bucket = open_s3_origin(s3_url, None)
    assert contents(bucket) == contents(source)

    again = cli("origin", "migrate", "--to", s3_url, "--data-dir", str(tmp_path / "d"))
    assert again.returncode == 0 and again.stdout.startswith("0 title(s) copied")
    assert "2 already there" in again.stdout

    source.put("videos/vb/thumbs/poster.jpg", b"a new poster")
    changed = cli("origin", "migrate", "--to", s3_url, "--data-dir", str(tmp_path / "d"))
    assert changed.returncode == 0 and changed.stdout.startswith("1 title(s) copied"), changed.stderr
    assert open_s3_origin(s3_url, None).read("videos/vb/thumbs/poster.jpg") == b"a new poster"

    back = cli("origin", "migrate", "--from", s3_url, "--to", "file", "--data-dir", str(tmp_path / "back"))
    assert back.returncode == 0, back.stderr
    assert contents(LocalBlobStore(tmp_path / "back" / "origin")) == contents(source)


def test_migrate_to_a_bad_bucket_names_the_flag_and_copies_nothing(s3_url: str, tmp_path: Path) -> None:
    local_origin(tmp_path / "d" / "origin")
    bad = s3_url.replace("s3://t-", "s3://missing-")
    run = cli("origin", "migrate", "--to", bad, "--data-dir", str(tmp_path / "d"))
    assert run.returncode == 2 and f"--to={bad!r}" in run.stderr and "does not exist" in run.stderr
    assert "copied" not in run.stdout
