"""Copy every published title from one origin to another (a local folder to S3, or back).

Title by title, through the blob store protocol: each object is streamed from the source into a
scratch file while its SHA-256 is taken, the title is staged and committed at the destination (so
it appears there whole), then every object is read back from the destination and checked against
the source's size and checksum. A title already at the destination with the same objects, sizes
and checksums is left alone, so a rerun copies only what is missing or different.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from server.errors import MiniflixError, NotFound
from server.storage.blobstore import TITLE_PREFIX, BlobStore

READ_CHUNK = 1024 * 1024


class MigrationError(MiniflixError):
    """An object at the destination differs from the source after copying."""


@dataclass
class MigrationReport:
    """What one run did: titles copied, titles already there, objects and bytes copied."""

    copied: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0


def titles(store: BlobStore) -> list[str]:
    """The prefix (`videos/<id>`) of every title published in `store`."""
    return sorted({"/".join(key.split("/")[:2]) for key in store.list(TITLE_PREFIX)})


def digest(store: BlobStore, key: str) -> str:
    """SHA-256 of one object, streamed."""
    sha = hashlib.sha256()
    with store.open(key) as body:
        while chunk := body.read(READ_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def migrate(source: BlobStore, dest: BlobStore, scratch: Path,
            progress: Callable[[str], None] = lambda line: None) -> MigrationReport:
    """Copy every title of `source` missing or different at `dest`, verified object by object."""
    report = MigrationReport()
    prefixes = titles(source)
    for number, prefix in enumerate(prefixes, 1):
        sums = {key: digest(source, key) for key in source.list(prefix)}
        if _same(dest, sums, source):
            report.present.append(prefix)
            progress(f"{number}/{len(prefixes)} {prefix}: already there ({len(sums)} objects verified)")
            continue
        size = _copy_title(source, dest, prefix, sums, scratch)
        _verify(source, dest, sums)
        report.copied.append(prefix)
        report.objects += len(sums)
        report.bytes += size
        progress(f"{number}/{len(prefixes)} {prefix}: copied {len(sums)} objects, "
                 f"{size / 1e6:.1f} MB, verified")
    return report


def _same(dest: BlobStore, sums: dict[str, str], source: BlobStore) -> bool:
    """Whether `dest` holds exactly these objects with the same sizes and checksums."""
    prefix = "/".join(next(iter(sums)).split("/")[:2]) if sums else ""
    if not prefix or set(dest.list(prefix)) != set(sums):
        return False
    try:
        return all(dest.stat(k).size == source.stat(k).size and digest(dest, k) == s for k, s in sums.items())
    except NotFound:
        return False


def _copy_title(source: BlobStore, dest: BlobStore, prefix: str, sums: dict[str, str],
                scratch: Path) -> int:
    """Stream each object to a scratch file, then stage and commit them at `dest`; the bytes copied."""
    folder = scratch / prefix.replace("/", "_")
    shutil.rmtree(folder, ignore_errors=True)
    staging = dest.stage(prefix)
    try:
        size = 0
        for key in sums:
            rel = key.removeprefix(prefix + "/")
            local = folder / rel
            local.parent.mkdir(parents=True, exist_ok=True)
            with source.open(key) as body, local.open("wb") as out:
                while chunk := body.read(READ_CHUNK):
                    out.write(chunk)
            size += local.stat().st_size
            staging.add_file(rel, local)
        staging.commit()
        return size
    except BaseException:
        staging.abort()
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _verify(source: BlobStore, dest: BlobStore, sums: dict[str, str]) -> None:
    """Every object read back from `dest`: same size as the source's and the same SHA-256."""
    for key, expected in sums.items():
        size, copied = source.stat(key).size, dest.stat(key).size
        if copied != size:
            raise MigrationError(f"{key} is {copied} bytes at the destination, {size} at the source.",
                                 hint="run the migration again")
        if digest(dest, key) != expected:
            raise MigrationError(f"{key} differs at the destination (SHA-256 mismatch).",
                                 hint="run the migration again")
