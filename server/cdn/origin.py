"""How edges pull from the origin: straight from a blob store, or over HTTP from the origin server."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from server.errors import MiniflixError, NotFound
from server.storage.blobstore import BlobStore, safe_key


class OriginError(MiniflixError):
    """The origin did not answer or failed (5xx, refused, timeout): an edge may serve stale."""

    status = 502


@dataclass(frozen=True)
class OriginObject:
    """One object as the origin holds it."""

    key: str
    data: bytes
    etag: str

    @property
    def size(self) -> int:
        return len(self.data)


class OriginClient(Protocol):
    """`fetch` raises NotFound for a missing object and OriginError when the origin is unreachable."""

    def fetch(self, key: str) -> OriginObject: ...
    def etag(self, key: str) -> str: ...


class StoreOrigin:
    """Reads a blob store directly (same process); `fail` simulates an outage and `latency_s` a far
    origin (each fetch takes at least that long)."""

    def __init__(self, store: BlobStore, latency_s: float = 0.0) -> None:
        self.store = store
        self.latency_s = latency_s
        self.fail = False
        self.fetches = 0
        self.attempts = 0       # fetches and revalidations asked of it, failed or not

    def fetch(self, key: str) -> OriginObject:
        self._check_up(key)
        self.fetches += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        etag = self.store.stat(key).etag
        return OriginObject(safe_key(key), self.store.read(key), etag)

    def etag(self, key: str) -> str:
        self._check_up(key)
        return self.store.stat(key).etag

    def _check_up(self, key: str) -> None:
        self.attempts += 1
        if self.fail:
            raise OriginError(f"The origin is unavailable while fetching {key!r}.")


class HttpOrigin:
    """Pulls over HTTP from `base_url` (e.g. `http://127.0.0.1:8080/origin`) + `/` + key."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def fetch(self, key: str) -> OriginObject:
        with self._open(key, "GET") as resp:
            return OriginObject(safe_key(key), resp.read(), validator(resp.headers))

    def etag(self, key: str) -> str:
        with self._open(key, "HEAD") as resp:
            return validator(resp.headers)

    def _open(self, key: str, method: str) -> Any:
        url = f"{self.base_url}/{urllib.parse.quote(safe_key(key))}"
        try:
            return urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            if exc.code in (403, 404):
                raise NotFound(f"No object {key!r} at the origin.") from exc
            raise OriginError(f"The origin answered {exc.code} for {key!r}.") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise OriginError(f"The origin at {self.base_url} is unreachable: {exc}") from exc


def validator(headers: Any) -> str:
    """The ETag, else Last-Modified + length (plain static servers), else "" (never revalidates)."""
    etag = str(headers.get("ETag") or "").strip('"')
    if etag:
        return etag
    modified = headers.get("Last-Modified")
    return f"lm:{modified}:{headers.get('Content-Length', '')}" if modified else ""
