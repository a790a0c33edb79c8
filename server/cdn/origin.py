"""How edges pull from the origin: straight from a blob store, or over HTTP from the origin server.

Objects arrive as streams read in bounded pieces, never as one `bytes`: a segment may be small, but
an edge must survive a 1 GiB object (or a 1-byte Range of one) without holding it in memory.
"""

from __future__ import annotations

import http.client
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from server.errors import MiniflixError, NotFound
from server.storage.blobstore import BlobReader, BlobStore, StoreUnavailable, safe_key, span

CHUNK_BYTES = 1024 * 1024        # the largest piece of an object an edge holds in memory at once
SMALL_OBJECT_LIMIT = 16 * 1024 * 1024   # playlists and manifests read whole (`read_small`)
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class OriginError(MiniflixError):
    """The origin did not answer or failed (5xx, refused, timeout): an edge may serve stale."""

    status = 502


@dataclass(frozen=True)
class ObjectInfo:
    """One object as the origin holds it: its key, whole size and validator."""

    key: str
    size: int
    etag: str


class OriginStream:
    """An open object: `info` describes the whole object; `read` yields bytes `start`..`start+length`."""

    def __init__(self, info: ObjectInfo, raw: BinaryIO | BlobReader, start: int, length: int) -> None:
        self.info, self.start, self.length = info, start, length
        self._raw, self._left = raw, length

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        """Up to `size` (at most CHUNK_BYTES) of the next bytes; b"" at the end of the span."""
        want = min(size, CHUNK_BYTES, self._left)
        if want <= 0:
            return b""
        try:
            chunk = self._raw.read(want)
        except (OSError, http.client.HTTPException) as exc:
            raise OriginError(f"Reading {self.info.key!r} from the origin failed: {exc}") from exc
        if not chunk:
            raise OriginError(f"The origin ended {self.info.key!r} {self._left} bytes early.")
        self._left -= len(chunk)
        return chunk

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> OriginStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OriginClient(Protocol):
    """`open` raises NotFound for a missing object and OriginError when the origin is unreachable."""

    def open(self, key: str, start: int = 0, length: int | None = None) -> OriginStream: ...
    def etag(self, key: str) -> str: ...


def read_small(origin: OriginClient, key: str, limit: int = SMALL_OBJECT_LIMIT) -> bytes:
    """A whole small object (a playlist), refusing anything over `limit` bytes."""
    with origin.open(key) as stream:
        if stream.info.size > limit:
            raise OriginError(f"{key!r} is {stream.info.size} bytes; a playlist is at most {limit}.")
        return b"".join(iter(stream.read, b""))


class StoreOrigin:
    """Reads a blob store directly (same process); `fail` simulates an outage and `latency_s` a far
    origin (each fetch takes at least that long). A store that cannot answer (S3 stopped) is an
    `OriginError`, so an edge serves its stale copy."""

    def __init__(self, store: BlobStore, latency_s: float = 0.0) -> None:
        self.store = store
        self.latency_s = latency_s
        self.fail = False
        self.fetches = 0
        self.attempts = 0       # fetches and revalidations asked of it, failed or not

    def open(self, key: str, start: int = 0, length: int | None = None) -> OriginStream:
        """The object's bytes from `start` (a seek: a Range never reads what it skips)."""
        self._check_up(key)
        self.fetches += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        try:
            stat = self.store.stat(key)
            start, length = span(stat.size, start, length)
            raw = self.store.open(key, start, length)
        except StoreUnavailable as exc:
            raise OriginError(exc.message, hint=exc.hint) from exc
        return OriginStream(ObjectInfo(safe_key(key), stat.size, stat.etag), raw, start, length)

    def etag(self, key: str) -> str:
        self._check_up(key)
        try:
            return self.store.stat(key).etag
        except StoreUnavailable as exc:
            raise OriginError(exc.message, hint=exc.hint) from exc

    def _check_up(self, key: str) -> None:
        self.attempts += 1
        if self.fail:
            raise OriginError(f"The origin is unavailable while fetching {key!r}.")


class HttpOrigin:
    """Pulls over HTTP from `base_url` (e.g. `http://127.0.0.1:8080/origin`) + `/` + key; a partial
    read is asked with a Range header (and skipped up to by reading when the server ignores it)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def open(self, key: str, start: int = 0, length: int | None = None) -> OriginStream:
        headers = {}
        if start > 0 or length is not None:
            end = "" if length is None else str(start + max(length, 1) - 1)
            headers["Range"] = f"bytes={start}-{end}"
        resp = self._open(key, "GET", headers)
        try:
            return self._stream(key, resp, start, length)
        except BaseException:
            resp.close()
            raise

    def etag(self, key: str) -> str:
        with self._open(key, "HEAD") as resp:
            return validator(resp.headers, _length(key, resp.headers))

    def _stream(self, key: str, resp: Any, start: int, length: int | None) -> OriginStream:
        found = CONTENT_RANGE.fullmatch(str(resp.headers.get("Content-Range") or "").strip())
        if resp.status == 206 and found:
            size, served_from = int(found[3]), int(found[1])
        else:
            size, served_from = _length(key, resp.headers), 0
        info = ObjectInfo(safe_key(key), size, validator(resp.headers, size))
        start, length = span(size, start, length)
        if served_from > start:
            raise OriginError(f"The origin answered {key!r} from byte {served_from}, not {start}.")
        _skip(resp, start - served_from)
        return OriginStream(info, resp, start, length)

    def _open(self, key: str, method: str, headers: dict[str, str] | None = None) -> Any:
        url = f"{self.base_url}/{urllib.parse.quote(safe_key(key))}"
        request = urllib.request.Request(url, method=method, headers=headers or {})
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (403, 404, 410):
                raise NotFound(f"No object {key!r} at the origin.") from None
            raise OriginError(f"The origin answered {exc.code} for {key!r}.") from None
        except (urllib.error.URLError, OSError) as exc:
            raise OriginError(f"The origin at {self.base_url} is unreachable: {exc}") from exc


def _length(key: str, headers: Any) -> int:
    try:
        return int(headers.get("Content-Length"))
    except (TypeError, ValueError):
        raise OriginError(f"The origin sent {key!r} without a length.",
                          hint="the origin must send Content-Length") from None


def _skip(resp: Any, nbytes: int) -> None:
    """Read and drop `nbytes` (a server that ignored our Range), a bounded piece at a time."""
    while nbytes > 0:
        chunk = resp.read(min(nbytes, CHUNK_BYTES))
        if not chunk:
            raise OriginError("The origin ended the object before the asked range.")
        nbytes -= len(chunk)


def validator(headers: Any, size: int) -> str:
    """The ETag, else Last-Modified + whole size (plain static servers), else "" (never revalidates)."""
    etag = str(headers.get("ETag") or "").strip('"')
    if etag:
        return etag
    modified = headers.get("Last-Modified")
    return f"lm:{modified}:{size}" if modified else ""
