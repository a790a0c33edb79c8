"""The origin blob store, in keys and streams: keys like `videos/<id>/cmaf/720p/seg_00001.m4s`.

A title is staged file by file and made visible in one step (`Staging.commit`), so a reader never
sees half a title and a republish replaces the older copy whole. Delete goes to a trash that
`restore` takes back. Reads are streams from an offset (a Range), never local paths: the same
protocol runs on a local folder (`LocalBlobStore`, here) and on S3 (`server/storage/s3.py`).
Keys are checked before they touch any store: no `..`, no absolute paths, no backslashes or NULs,
no hidden parts (where each backend keeps its staging and trash).
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
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote

from server.errors import Forbidden, InvalidRequest, MiniflixError, NotFound

TITLE_PREFIX = "videos"
COPY_CHUNK = 1024 * 1024


class StoreUnavailable(MiniflixError):
    """The store did not answer or failed (a stopped S3 server, a timeout): retry later."""

    status = 503


@dataclass(frozen=True)
class BlobStat:
    """Size, modification time and a strong validator of one object."""

    key: str
    size: int
    mtime: float
    etag: str


class BlobReader(Protocol):
    """An open object's bytes from the asked offset: `read(n)` until b"", then `close()`."""

    def read(self, size: int = -1, /) -> bytes: ...
    def close(self) -> None: ...
    def __enter__(self) -> BlobReader: ...
    def __exit__(self, kind: Any, value: Any, tb: Any, /) -> None: ...


class Staging(Protocol):
    """A title being published: files are added under their relative names, then `commit()` makes
    them all visible at once (an older copy is replaced whole), or `abort()` drops them."""

    prefix: str

    def add_file(self, rel: str, local: Path) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class BlobStore(Protocol):
    """What the pipeline, the origin server and the edges need from storage."""

    def stat(self, key: str) -> BlobStat: ...
    def open(self, key: str, start: int = 0, length: int | None = None) -> BlobReader: ...
    def read(self, key: str) -> bytes: ...
    def put(self, key: str, data: bytes | BinaryIO) -> None: ...
    def list(self, prefix: str) -> Iterator[str]: ...
    def exists(self, key: str) -> bool: ...
    def size(self, prefix: str) -> int: ...
    def delete(self, prefix: str) -> int: ...
    def stage(self, prefix: str) -> Staging: ...
    def trash(self, prefix: str) -> str: ...
    def restore(self, token: str, prefix: str) -> None: ...
    def purge_trash(self, older_than_s: float = ...) -> int: ...
    def discard_stale_staging(self, in_use: Callable[[str], bool]) -> tuple[str, ...]: ...
    def address(self) -> str: ...
    def put_file(self, key: str, local: Path) -> None: ...
    def get_file(self, key: str, target: Path) -> None: ...
    def read_url(self, key: str, expires_s: float) -> str | None: ...


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


def span(size: int, start: int, length: int | None) -> tuple[int, int]:
    """(start, length) clamped to an object of `size` bytes."""
    start = min(max(0, start), size)
    return start, size - start if length is None else max(0, min(length, size - start))


def files_under(folder: Path) -> Iterator[tuple[str, Path]]:
    """(relative key, file) for every file below `folder`, in sorted order: what a title stages."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path.relative_to(folder).as_posix(), path


class SpanReader:
    """At most `length` bytes of an open file, from where it stands (a Range of a local object)."""

    def __init__(self, raw: BinaryIO, length: int) -> None:
        self._raw, self._left = raw, length

    def read(self, size: int = -1, /) -> bytes:
        want = self._left if size is None or size < 0 else min(size, self._left)
        chunk = self._raw.read(want) if want > 0 else b""
        self._left -= len(chunk)
        return chunk

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> SpanReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalBlobStore:
    """Blob store on a local directory; `root/.staging` and `root/.trash` sit on the same disk, so
    staging links files in and publishing is one `rename`."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        for folder in (self.root / TITLE_PREFIX, self.root / ".staging", self.root / ".trash"):
            folder.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The file behind `key`, after checking it stays inside the root and crosses no symlink.
        The local backend's own (and its tests'); nothing outside `server/storage/` uses paths."""
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

    def open(self, key: str, start: int = 0, length: int | None = None) -> SpanReader:
        """The object's bytes from `start` (a seek: nothing before it is read), `length` at most."""
        stat = self.stat(key)
        start, length = span(stat.size, start, length)
        raw = self.path(key).open("rb")
        raw.seek(start)
        return SpanReader(raw, length)

    def read(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def address(self) -> str:
        """The `origin` setting that opens this same folder in another process on a machine that
        shares the disk (a Dask worker): `folder:///its/root`."""
        return f"folder://{quote(self.root.as_posix(), safe='/:')}"

    def read_url(self, key: str, expires_s: float) -> str | None:
        """None: another process reads a folder's object through `get_file` (a hard link)."""
        self.stat(key)
        return None

    def put_file(self, key: str, local: Path) -> None:
        """`local` as the object `key`, hard-linked when it is on the store's disk (a source is
        often gigabytes), else copied; atomic either way (temp name + rename)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        _link_or_copy(Path(local), tmp)
        os.replace(tmp, path)

    def get_file(self, key: str, target: Path) -> None:
        """The object `key` as the file `target`, hard-linked when on the same disk, else copied;
        `target` appears whole or not at all."""
        source = self.path(key)
        if not source.is_file():
            raise NotFound(f"No object {key!r} in the origin.")
        part = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.part")
        _link_or_copy(source, part)
        os.replace(part, target)

    def exists(self, key: str) -> bool:
        try:
            return self.path(key).is_file()
        except Forbidden:
            return False

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        """Write one object atomically (temp file + rename)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with tmp.open("wb") as out:
            if isinstance(data, bytes):
                out.write(data)
            else:
                shutil.copyfileobj(data, out, COPY_CHUNK)
        os.replace(tmp, path)

    def list(self, prefix: str) -> Iterator[str]:
        base = self.path(prefix)
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(self.root).as_posix()

    def size(self, prefix: str) -> int:
        """Bytes of every object under `prefix` (0 when nothing is there)."""
        return sum(self.stat(key).size for key in self.list(prefix))

    def delete(self, prefix: str) -> int:
        """Remove every object under `prefix` at once (scratch such as `work/<job>`; a title goes
        to the trash instead); returns how many went."""
        if safe_key(prefix).split("/")[0] == TITLE_PREFIX:
            raise InvalidRequest(f"Refused to delete {prefix!r}: titles go to the trash (`trash`).")
        folder = self.path(prefix)
        count = sum(1 for _ in self.list(prefix))
        if folder.exists():
            _remove(folder)
        for parent in folder.parents:   # folders left empty are no objects: as on S3, they go too
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:   # not empty: another job's scratch lives there
                break
        return count

    def stage(self, prefix: str) -> LocalStaging:
        """A staging dir for `prefix` on the store's disk; its files appear together on commit."""
        key = safe_key(prefix)
        return LocalStaging(self, key, self.staging_dir(key.rsplit("/", 1)[-1]))

    def staging_dir(self, name: str) -> Path:
        """A fresh directory under `.staging` named for `name` (the title's id, which
        `discard_stale_staging` asks about)."""
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
        title id they were staged for): what a killed packaging run left. Returns the names."""
        gone: tuple[str, ...] = ()
        for entry in sorted((self.root / ".staging").iterdir()):
            name = entry.name.rsplit("-", 1)[0]
            if not in_use(name):
                _remove(entry)
                gone += (name,)
        return gone


class LocalStaging:
    """A title being assembled in `.staging/<id>-<random>`: files are hard-linked in (same disk, no
    copy; copied only across disks) and the folder is renamed into place on commit."""

    def __init__(self, store: LocalBlobStore, prefix: str, folder: Path) -> None:
        self.store, self.prefix, self.folder = store, prefix, folder

    def add_file(self, rel: str, local: Path) -> None:
        target = self.folder / safe_key(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(local, target)
        except OSError:
            shutil.copy2(local, target)

    def commit(self) -> None:
        self.store.publish_dir(self.folder, self.prefix)

    def abort(self) -> None:
        self.store.discard_staging(self.folder)


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link from `target` to `source`; a copy across disks or where links are refused."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def copy_to_file(body: BlobReader, target: Path) -> None:
    """Stream an open object into `target`, which appears whole or not at all."""
    part = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with body, part.open("wb") as out:
            shutil.copyfileobj(body, out, COPY_CHUNK)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


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
