"""The origin blob store: keys like `videos/<id>/cmaf/720p/seg_00001.m4s`, published atomically.

A title is built in a staging directory and appears with one `rename`, so a reader never sees
half a title. Keys are checked before they touch the filesystem: no `..`, no absolute paths,
no backslashes or NULs, no symlinks, nothing outside the root.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from server.errors import Forbidden, InvalidRequest, NotFound

TITLE_PREFIX = "videos"


@dataclass(frozen=True)
class BlobStat:
    """Size, modification time and a strong validator of one object."""

    key: str
    size: int
    mtime: float
    etag: str


class BlobStore(Protocol):
    """What the pipeline, the origin server and the edges need from storage."""

    def stat(self, key: str) -> BlobStat: ...
    def open(self, key: str) -> BinaryIO: ...
    def read(self, key: str) -> bytes: ...
    def put(self, key: str, data: bytes) -> None: ...
    def list(self, prefix: str) -> Iterator[str]: ...
    def exists(self, key: str) -> bool: ...
    def staging_dir(self, name: str) -> Path: ...
    def publish_dir(self, staging: Path, prefix: str) -> None: ...
    def trash(self, prefix: str) -> str: ...
    def restore(self, token: str, prefix: str) -> None: ...


MAX_KEY_BYTES = 1024   # whole key, UTF-8; far below PATH_MAX once under the store's root
MAX_PART_BYTES = 255   # one path part, UTF-8: NAME_MAX of common file systems


def safe_key(key: str) -> str:
    """Normalise a key, refusing anything that could leave the store's root (403) or that no file
    system could hold (400: too long, not encodable), so neither reaches the disk."""
    shown = repr(key[:80]) + ("…" if len(key) > 80 else "")
    if not key or "\x00" in key or "\\" in key or key.startswith("/") or ":" in key.split("/")[0]:
        raise Forbidden(f"Refused object key {shown}: keys are relative paths inside the origin.")
    parts = [p for p in key.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." or p.startswith(".") for p in parts):
        raise Forbidden(f"Refused object key {shown}: no '..' or hidden parts allowed.")
    sizes = [_utf8_len(p, shown) for p in parts]
    if max(sizes) > MAX_PART_BYTES or sum(sizes) + len(parts) - 1 > MAX_KEY_BYTES:
        raise InvalidRequest(f"Refused object key {shown}: a key is at most {MAX_KEY_BYTES} bytes, "
                             f"each part at most {MAX_PART_BYTES}.")
    return "/".join(parts)


def _utf8_len(part: str, shown: str) -> int:
    try:
        return len(part.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: no file name can hold them
        raise InvalidRequest(f"Refused object key {shown}: it is not valid Unicode text.") from None


class LocalBlobStore:
    """Blob store on a local directory; `root/.staging` and `root/.trash` sit on the same disk."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        for folder in (self.root / TITLE_PREFIX, self.root / ".staging", self.root / ".trash"):
            folder.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The file behind `key`, after checking it stays inside the root and crosses no symlink."""
        rel = safe_key(key)
        path = self.root / rel
        current = self.root
        for part in rel.split("/"):
            current = current / part
            if current.is_symlink():
                raise Forbidden(f"Refused object key {key!r}: it crosses a symbolic link.")
        if not path.resolve().is_relative_to(self.root):
            raise Forbidden(f"Refused object key {key!r}: it points outside the origin.")
        return path

    def stat(self, key: str) -> BlobStat:
        path = self.path(key)
        if not path.is_file():
            raise NotFound(f"No object {key!r} in the origin.")
        st = path.stat()
        tag = hashlib.sha1(f"{rel_or(key)}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()
        return BlobStat(key=safe_key(key), size=st.st_size, mtime=st.st_mtime, etag=tag[:20])

    def open(self, key: str) -> BinaryIO:
        self.stat(key)
        return self.path(key).open("rb")

    def read(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def exists(self, key: str) -> bool:
        try:
            return self.path(key).is_file()
        except Forbidden:
            return False

    def put(self, key: str, data: bytes) -> None:
        """Write one object atomically (temp file + rename)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def list(self, prefix: str) -> Iterator[str]:
        base = self.path(prefix)
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(self.root).as_posix()

    def staging_dir(self, name: str) -> Path:
        """A fresh directory on the store's disk where a title is assembled before publishing."""
        path = self.root / ".staging" / f"{safe_key(name)}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    def publish_dir(self, staging: Path, prefix: str) -> None:
        """Make `staging` appear as `prefix` in one rename; an older copy is replaced whole."""
        target = self.path(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if target.exists():
            old = self.root / ".trash" / f"replaced-{uuid.uuid4().hex}"
            os.rename(target, old)
        os.rename(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def trash(self, prefix: str) -> str:
        """Move a published prefix to the trash; returns a token that `restore` takes back."""
        target = self.path(prefix)
        if not target.exists():
            raise NotFound(f"Nothing published at {prefix!r}.")
        token = f"{int(time.time())}-{uuid.uuid4().hex[:8]}"
        os.rename(target, self.root / ".trash" / token)
        return token

    def restore(self, token: str, prefix: str) -> None:
        """Undo `trash`: put the trashed directory back at `prefix`."""
        source = self.root / ".trash" / safe_key(token)
        if not source.is_dir():
            raise NotFound(f"Nothing in the trash under {token!r}; it may have been purged.")
        target = self.path(prefix)
        if target.exists():
            raise Forbidden(f"Cannot restore over {prefix!r}: something is published there.")
        os.rename(source, target)

    def purge_trash(self, older_than_s: float = 7 * 86400) -> int:
        """Delete trashed directories older than `older_than_s`; returns how many went."""
        cutoff, count = time.time() - older_than_s, 0
        for entry in (self.root / ".trash").iterdir():
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                count += 1
        return count

    def discard_staging(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def discard_stale_staging(self, in_use: Callable[[str], bool]) -> tuple[str, ...]:
        """Delete the staging dirs no build is using any more (`in_use(name)` is False for the
        `name` given to `staging_dir`): what a killed packaging run left. Returns the names."""
        gone: tuple[str, ...] = ()
        for entry in sorted((self.root / ".staging").iterdir()):
            name = entry.name.rsplit("-", 1)[0]
            if not in_use(name):
                _remove(entry)
                gone += (name,)
        return gone


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def rel_or(key: str) -> str:
    """The normalised key, used inside ETags so two objects never share one."""
    return safe_key(key)


def title_prefix(video_id: str) -> str:
    """Origin prefix of one title."""
    return f"{TITLE_PREFIX}/{safe_key(video_id)}"
