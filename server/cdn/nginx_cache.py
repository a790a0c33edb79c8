"""What an nginx edge holds: its `proxy_cache` folder read from disk, and a title's purge.

nginx-light has no cache-purge module, so a purge deletes the files: each cache file starts with a
binary header that carries `KEY: <cache key>` (our key is the object key, `videos/<id>/…`). nginx
treats a deleted file as a miss and asks the origin again. Scans are memoised for a second: steering
asks every edge about content presence on each decision.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HEADER_BYTES = 4096
CACHE_FILE = re.compile(r"[0-9a-f]{32}")     # temp files of fills in flight have a suffix
MEMO_S = 1.0
MAX_REMEMBERED = 100_000     # evicted keys kept for the miss class


class NginxCache:
    """The cache folder of one nginx edge. `used` and `policy` stand in for the Python edge's cache
    policy where steering reads how full an edge is. Objects that vanish between two scans without
    a purge were evicted by nginx's cache manager (capacity or inactivity): `take_evictions` hands
    them over once, `was_evicted` answers the miss class `capacity` as the Python edge does."""

    def __init__(self, root: Path, capacity_bytes: int) -> None:
        self.root, self.capacity_bytes = root, capacity_bytes
        self._keys: dict[str, str] = {}          # file name -> cache key (a file's key never changes)
        self._lock = threading.Lock()
        self._memo: tuple[float, list[tuple[Path, str, int]]] = (-MEMO_S, [])
        self._seen: dict[str, int] = {}          # key -> bytes, as of the last scan
        self._purged: set[str] = set()
        self._evicted: dict[str, int] = {}       # evicted and not asked for since (bounded)
        self._new_evictions: list[tuple[str, int]] = []

    @property
    def policy(self) -> NginxCache:
        return self

    @property
    def used(self) -> int:
        return sum(size for _, _, size in self.entries())

    def entries(self, fresh: bool = False) -> list[tuple[Path, str, int]]:
        """(file, key, bytes) of every cached object (at most a second old unless `fresh`)."""
        with self._lock:
            at, found = self._memo
            if fresh or time.monotonic() - at >= MEMO_S:
                found = [entry for entry in map(self._entry, self._files()) if entry is not None]
                self._memo = (time.monotonic(), found)
                self._note_gone({key: size for _, key, size in found})
            return found

    def take_evictions(self) -> list[tuple[str, int]]:
        """(key, bytes) of each object evicted since the last call, each once."""
        with self._lock:
            taken, self._new_evictions = self._new_evictions, []
            return taken

    def was_evicted(self, key: str) -> bool:
        """Whether `key` was evicted and not asked for since (then it is forgotten: one capacity miss)."""
        with self._lock:
            return self._evicted.pop(key, None) is not None

    def _note_gone(self, now: dict[str, int]) -> None:
        for key in self._seen.keys() - now.keys() - self._purged:
            self._new_evictions.append((key, self._seen[key]))
            self._evicted[key] = self._seen[key]
        while len(self._evicted) > MAX_REMEMBERED:
            del self._evicted[next(iter(self._evicted))]
        self._seen, self._purged = now, set()

    def title_objects(self, video_id: str) -> int:
        prefix = f"videos/{video_id}/"
        return sum(1 for _, key, _ in self.entries() if key.startswith(prefix))

    def stats(self) -> dict[str, Any]:
        """As the Python edge's cache reports: bytes, objects, and objects per title (a fresh scan:
        health reports are asked for now and then, not per request)."""
        entries = self.entries(fresh=True)
        titles = Counter(key.split("/")[1] for _, key, _ in entries if key.count("/") >= 2)
        return {"cached_bytes": sum(size for _, _, size in entries), "objects": len(entries),
                "titles": dict(titles)}

    def purge_title(self, video_id: str) -> int:
        """Delete every cached object of the title: how many files went."""
        prefix, dropped = f"videos/{video_id}/", 0
        for path, key, _ in self.entries(fresh=True):
            if key.startswith(prefix):
                with self._lock:
                    self._purged.add(key)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    dropped += 1
        self.entries(fresh=True)
        return dropped

    def _files(self) -> list[Path]:
        found: list[Path] = []
        for folder, _, names in os.walk(self.root):
            found.extend(Path(folder, name) for name in names if CACHE_FILE.fullmatch(name))
        return found

    def _entry(self, path: Path) -> tuple[Path, str, int] | None:
        try:
            size = path.stat().st_size
            key = self._keys.get(path.name)
            if key is None:
                key = self._keys[path.name] = read_key(path)
        except (OSError, ValueError):
            return None                          # evicted or half written while we looked
        return (path, key, size)


def read_key(path: Path) -> str:
    """The cache key in an nginx cache file's header (ValueError if there is none)."""
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES)
    start = head.index(b"\nKEY: ") + 6
    return head[start:head.index(b"\n", start)].decode("utf-8")
