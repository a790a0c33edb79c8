"""An edge's object cache on disk: TTL, pull on miss, one origin fetch per object, stale on error.

The eviction policy decides what stays; this class owns the files, so the bytes on disk never
exceed the capacity: an object is written to `.tmp`, room is made under the lock, then it is
renamed in. Readers open files under the same lock, so an eviction never pulls a file from under
a response (the open descriptor keeps the bytes).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from server.cdn.clock import Clock
from server.cdn.origin import OriginClient, OriginError, OriginObject
from server.cdn.policies import CachePolicy
from server.errors import NotFound

EventHook = Callable[[str, str, int], None]   # (type: "fill" | "evict", object key, bytes)
GHOSTS = 50_000
OBJECT_NAME = re.compile(r"[0-9a-f]{40}")     # sha1 of the object key
STALE_RETRY_S = 5.0     # during an origin outage, ask again this often (not on every request)


@dataclass
class Entry:
    key: str
    size: int
    etag: str
    stored_at: float
    path: Path
    retry_at: float = 0.0        # after a failed revalidation: serve stale without asking until then


@dataclass
class Lookup:
    """What a request gets: a status (HIT, MISS or STALE) and either an open file or the bytes."""

    status: str
    key: str
    size: int
    etag: str
    age: float
    file: BinaryIO | None = None
    data: bytes | None = None
    miss_reason: str = ""        # set by the edge: content | health | capacity

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def __enter__(self) -> Lookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# What a fetch leader hands to the requests that waited on it.
Outcome = tuple[str, Entry | None, OriginObject | None]


class EdgeCache:
    """Objects keyed by origin key; `get` is the request path, `fill` the proactive push."""

    def __init__(self, root: Path, policy: CachePolicy, ttl_s: float, origin: OriginClient, clock: Clock,
                 on_event: EventHook | None = None) -> None:
        self.root, self.policy, self.ttl_s, self.origin, self.clock = root, policy, ttl_s, origin, clock
        self.on_event = on_event or (lambda kind, key, nbytes: None)
        self._entries: dict[str, Entry] = {}
        self._titles: dict[str, int] = {}
        self._ghosts: OrderedDict[str, None] = OrderedDict()
        self._inflight: dict[str, Future[Outcome]] = {}
        self._lock = threading.Lock()
        self.clear()

    # -- request path -------------------------------------------------------------------------
    def get(self, key: str) -> Lookup:
        """The object, from disk when fresh, else from the origin (collapsed with concurrent misses)."""
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and self._fresh(entry):
                    self.policy.touch(key)
                    return self._open(entry, "HIT")
                if entry is not None and self.clock.now() < entry.retry_at:
                    self.policy.touch(key)
                    return self._open(entry, "STALE")
                future, leader = self._join_flight(key)
            outcome = self._lead(key, entry, future) if leader else future.result()
            lookup = self._from_outcome(outcome)
            if lookup is not None:
                return lookup

    def fill(self, key: str) -> int:
        """Pull `key` into the cache unless a fresh copy is there; the bytes pulled (0 if none)."""
        with self.get(key) as lookup:
            return lookup.size if lookup.status == "MISS" else 0

    # -- inspection ---------------------------------------------------------------------------
    def was_evicted(self, key: str) -> bool:
        with self._lock:
            return key in self._ghosts

    def has(self, key: str) -> bool:
        with self._lock:
            return key in self._entries

    def title_objects(self, video_id: str) -> int:
        return self._titles.get(video_id, 0)     # one dict read is atomic; steering calls this per edge

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"cached_bytes": self.policy.used, "objects": len(self._entries),
                    "titles": dict(self._titles)}

    def clear(self) -> None:
        """Forget everything (a cold cache). Deletes only files this class names (40-hex object files
        and `.tmp/`), never the directory itself: a misdirected root loses nothing else."""
        with self._lock:
            for key in list(self._entries):
                self._drop(key)
            shutil.rmtree(self.root / ".tmp", ignore_errors=True)
            (self.root / ".tmp").mkdir(parents=True)
            for path in self.root.iterdir():
                if OBJECT_NAME.fullmatch(path.name) and path.is_file() and not path.is_symlink():
                    path.unlink()

    # -- internals ----------------------------------------------------------------------------
    def _fresh(self, entry: Entry) -> bool:
        return self.clock.now() - entry.stored_at < self.ttl_s

    def _join_flight(self, key: str) -> tuple[Future[Outcome], bool]:
        future = self._inflight.get(key)
        if future is not None:
            return future, False
        future = self._inflight[key] = Future()
        return future, True

    def _lead(self, key: str, stale: Entry | None, future: Future[Outcome]) -> Outcome:
        try:
            outcome = self._refresh(key, stale)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._inflight.pop(key, None)
        future.set_result(outcome)
        return outcome

    def _refresh(self, key: str, stale: Entry | None) -> Outcome:
        """Revalidate a stale copy by ETag, else fetch; on origin failure keep serving the stale copy."""
        try:
            if stale is not None and stale.etag and self.origin.etag(key) == stale.etag:
                with self._lock:
                    stale.stored_at = self.clock.now()
                return ("HIT", stale, None)
            obj = self.origin.fetch(key)
        except OriginError:
            if stale is None:
                raise
            with self._lock:
                stale.retry_at = self.clock.now() + STALE_RETRY_S
            return ("STALE", stale, None)
        except NotFound:
            with self._lock:
                self._drop(key)
            raise
        self._store(obj)
        return ("MISS", None, obj)

    def _from_outcome(self, outcome: Outcome) -> Lookup | None:
        status, entry, obj = outcome
        if obj is not None:
            return Lookup(status, obj.key, obj.size, obj.etag, 0.0, data=obj.data)
        assert entry is not None
        with self._lock:
            if self._entries.get(entry.key) is not entry:
                return None   # evicted while we waited: go round again
            return self._open(entry, status)

    def _open(self, entry: Entry, status: str) -> Lookup:
        age = max(0.0, self.clock.now() - entry.stored_at)
        return Lookup(status, entry.key, entry.size, entry.etag, age, file=entry.path.open("rb"))

    def _store(self, obj: OriginObject) -> bool:
        """Write the object, make room, rename it in; False when it is larger than the whole cache."""
        tmp = self.root / ".tmp" / uuid.uuid4().hex
        tmp.write_bytes(obj.data)
        with self._lock:
            self._drop(obj.key)
            evicted = self.policy.admit(obj.key, obj.size)
            for old in evicted:
                self._evict(old)
            if obj.key not in self.policy:
                tmp.unlink()
                return False
            path = self.root / hashlib.sha1(obj.key.encode()).hexdigest()
            tmp.replace(path)
            self._entries[obj.key] = Entry(obj.key, obj.size, obj.etag, self.clock.now(), path)
            self._count_title(obj.key, +1)
            self._ghosts.pop(obj.key, None)
        self.on_event("fill", obj.key, obj.size)
        return True

    def _evict(self, key: str) -> None:
        entry = self._entries.get(key)
        size = entry.size if entry else 0
        self._drop(key)
        self._ghosts[key] = None
        if len(self._ghosts) > GHOSTS:
            self._ghosts.popitem(last=False)
        self.on_event("evict", key, size)

    def _drop(self, key: str) -> None:
        """Forget one object (lock held): file, policy entry, title count."""
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self.policy.remove(key)
        entry.path.unlink(missing_ok=True)
        self._count_title(key, -1)

    def _count_title(self, key: str, delta: int) -> None:
        video_id = key.split("/")[1] if key.count("/") >= 2 else ""
        count = self._titles.get(video_id, 0) + delta
        if count > 0:
            self._titles[video_id] = count
        else:
            self._titles.pop(video_id, None)
