"""An edge's object cache on disk: TTL, pull on miss, one origin fetch per object, stale on error.

The eviction policy decides what stays; this class owns the files, so the bytes on disk never
exceed the capacity: an object is streamed to `.tmp` in bounded chunks, room is made under the
lock, then it is renamed in. Readers open files under the same lock, so an eviction never pulls a
file from under a response (the open descriptor keeps the bytes). An object larger than the whole
cache is never written: each response streams just its asked bytes from the origin (pass-through).
A purge forgets a title's objects, and fills already in flight for it land nowhere.
"""

from __future__ import annotations

import functools
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
from server.cdn.origin import CHUNK_BYTES, ObjectInfo, OriginClient, OriginError, OriginStream
from server.cdn.policies import CachePolicy, SessionPolicy
from server.errors import NotFound

EventHook = Callable[[str, str, int], None]   # (type: "fill" | "evict", object key, bytes)
Opener = Callable[[int, int], OriginStream]   # (start, length) -> those bytes of the object, from the origin
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
    """What a request gets: a status (HIT, MISS or STALE) and either an open file or, for an object
    that is not cached (a pass-through), `source`, which opens just the asked bytes at the origin."""

    status: str
    key: str
    size: int
    etag: str
    age: float
    file: BinaryIO | None = None
    source: Opener | None = None
    miss_reason: str = ""        # set by the edge: content | health | capacity

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def __enter__(self) -> Lookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# What a fetch leader hands to the requests that waited on it: a cache entry to open, or the object's
# description when it was not kept (each waiter then streams its own bytes from the origin).
Outcome = tuple[str, Entry | None, ObjectInfo | None]


def title_of(key: str) -> str:
    """The video id of `videos/<id>/…` ("" for any other key)."""
    return key.split("/")[1] if key.count("/") >= 2 else ""


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
        self._purges: dict[str, int] = {}      # video id -> purges so far (a fill from before one is void)
        self._lock = threading.Lock()
        # asked once, not per request (a runtime Protocol check looks up every method each time)
        self._viewers = policy if isinstance(policy, SessionPolicy) else None
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
                generation = self._purges.get(title_of(key), 0)
            if leader:
                lookup = self._lead(key, entry, future, generation)
            else:
                lookup = self._from_outcome(future.result())
            if lookup is not None:
                return lookup

    def observe(self, key: str, session: str, size: int) -> list[str]:
        """Tell a session-aware policy that viewer `session` got `key` (`size` bytes); the keys it
        wants prefetched ([] for other policies, or without a session tag)."""
        viewers = self._viewers
        if not session or viewers is None:
            return []
        with self._lock:
            viewers.observe(key, session, size)
            return viewers.prefetch()

    def prefetched(self, key: str, size: int) -> None:
        """A prefetch on the policy's word pulled `size` bytes of `key` (its budget counts them)."""
        if self._viewers is not None:
            with self._lock:
                self._viewers.prefetched(key, size)

    def fill(self, key: str) -> int:
        """Pull `key` into the cache unless a fresh copy is there; the bytes pulled (0 if none)."""
        with self.get(key) as lookup:
            return lookup.size if lookup.status == "MISS" and lookup.file is not None else 0

    def purge_title(self, video_id: str) -> int:
        """Forget every object of a title, fresh or stale, and void fills in flight for it, so the
        next request asks the origin (a deleted title: 404). Returns how many objects were dropped."""
        with self._lock:
            self._purges[video_id] = self._purges.get(video_id, 0) + 1
            keys = [key for key in self._entries if title_of(key) == video_id]
            for key in keys:
                self._drop(key)
            for key in [key for key in self._inflight if title_of(key) == video_id]:
                del self._inflight[key]        # later requests start their own fetch
        return len(keys)

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

    def _lead(self, key: str, stale: Entry | None, future: Future[Outcome], generation: int) -> Lookup | None:
        try:
            outcome, lookup = self._refresh(key, stale, generation)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._lock:
                if self._inflight.get(key) is future:    # a purge may have detached it already
                    del self._inflight[key]
        future.set_result(outcome)
        return lookup if lookup is not None else self._from_outcome(outcome)

    def _refresh(self, key: str, stale: Entry | None, generation: int) -> tuple[Outcome, Lookup | None]:
        """Revalidate a stale copy by ETag, else fetch; on origin failure keep serving the stale copy."""
        try:
            if stale is not None and stale.etag and self.origin.etag(key) == stale.etag:
                with self._lock:
                    stale.stored_at = self.clock.now()
                return ("HIT", stale, None), None
            stream = self.origin.open(key)
        except OriginError:
            if stale is None:
                raise
            with self._lock:
                stale.retry_at = self.clock.now() + STALE_RETRY_S
            return ("STALE", stale, None), None
        except NotFound:
            with self._lock:
                self._drop(key)
            raise
        with stream:
            return self._take(stream, generation)

    def _take(self, stream: OriginStream, generation: int) -> tuple[Outcome, Lookup]:
        """Spool a fetched object to disk and keep it if it may stay; the leader reads its own copy."""
        info = stream.info
        if info.size > self.policy.capacity:
            return ("PASS", None, info), self._pass_through(info)
        tmp = self._spool(stream)
        try:
            file = tmp.open("rb")
            entry = self._admit(info, tmp, generation)
        finally:
            tmp.unlink(missing_ok=True)      # renamed in, or not kept: the open file reads on either way
        lookup = Lookup("MISS", info.key, info.size, info.etag, 0.0, file=file)
        return (("MISS", entry, None) if entry is not None else ("PASS", None, info)), lookup

    def _spool(self, stream: OriginStream) -> Path:
        """Write the stream to a new `.tmp` file, one bounded chunk at a time."""
        tmp = self.root / ".tmp" / uuid.uuid4().hex
        try:
            with tmp.open("wb") as out:
                while chunk := stream.read(CHUNK_BYTES):
                    out.write(chunk)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _admit(self, info: ObjectInfo, tmp: Path, generation: int) -> Entry | None:
        """Make room and rename `tmp` in; None when it may not stay (the policy refuses it, or its
        title was purged while it was being fetched)."""
        with self._lock:
            if self._purges.get(title_of(info.key), 0) != generation:
                return None
            self._drop(info.key)
            for old in self.policy.admit(info.key, info.size):
                self._evict(old)
            if info.key not in self.policy:
                return None
            path = self.root / hashlib.sha1(info.key.encode()).hexdigest()
            tmp.replace(path)
            entry = self._entries[info.key] = Entry(info.key, info.size, info.etag, self.clock.now(), path)
            self._count_title(info.key, +1)
            self._ghosts.pop(info.key, None)
        self.on_event("fill", info.key, info.size)
        return entry

    def _from_outcome(self, outcome: Outcome) -> Lookup | None:
        status, entry, info = outcome
        if info is not None:
            return self._pass_through(info)
        assert entry is not None
        with self._lock:
            if self._entries.get(entry.key) is not entry:
                return None   # evicted or purged while we waited: go round again
            return self._open(entry, status)

    def _open(self, entry: Entry, status: str) -> Lookup:
        age = max(0.0, self.clock.now() - entry.stored_at)
        return Lookup(status, entry.key, entry.size, entry.etag, age, file=entry.path.open("rb"))

    def _pass_through(self, info: ObjectInfo) -> Lookup:
        return Lookup("MISS", info.key, info.size, info.etag, 0.0,
                      source=functools.partial(self._open_at_origin, info))

    def _open_at_origin(self, info: ObjectInfo, start: int, length: int) -> OriginStream:
        """Bytes of a pass-through object, refused if the object changed since its size was given."""
        stream = self.origin.open(info.key, start, length)
        if (stream.info.size, stream.info.etag) != (info.size, info.etag):
            stream.close()
            raise OriginError(f"{info.key!r} changed at the origin while it was being served.",
                              hint="ask again")
        return stream

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
        video_id = title_of(key)
        count = self._titles.get(video_id, 0) + delta
        if count > 0:
            self._titles[video_id] = count
        else:
            self._titles.pop(video_id, None)
