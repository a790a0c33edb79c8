"""Eviction policies behind one registry, all counting bytes: LRU, FIFO, S3-FIFO (SOSP '23),
W-TinyLFU (ACM ToS '17) and the session-aware policy (`server/cdn/session_policy.py`).

A policy only decides; the edge owns the files. `admit(key, size)` inserts and returns the keys it
evicted to make room (an object larger than the whole cache is not admitted); `touch(key)` records a
hit; `remove(key)` forgets an object the edge dropped for another reason (TTL, origin 404).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable


class CachePolicy(Protocol):
    capacity: int
    used: int

    def __contains__(self, key: object) -> bool: ...
    def __len__(self) -> int: ...
    def touch(self, key: str) -> None: ...
    def admit(self, key: str, size: int) -> list[str]: ...
    def remove(self, key: str) -> None: ...


@runtime_checkable
class SessionPolicy(Protocol):
    """A policy that is also told which viewer asked (the router's session tag) and may name objects
    worth fetching before anyone asks for them."""

    def observe(self, key: str, session: str, size: int = 0) -> None: ...
    def prefetch(self) -> list[str]: ...
    def prefetched(self, key: str, size: int) -> None: ...


class LRU:
    """Least recently used: a hit moves the object to the front; the back is evicted."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.used = capacity, 0
        self._sizes: OrderedDict[str, int] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)

    def touch(self, key: str) -> None:
        if key in self._sizes:
            self._sizes.move_to_end(key)

    def admit(self, key: str, size: int) -> list[str]:
        self.remove(key)
        if size > self.capacity:
            return []
        evicted = []
        while self.used + size > self.capacity:
            old, old_size = self._sizes.popitem(last=False)
            self.used -= old_size
            evicted.append(old)
        self._sizes[key] = size
        self.used += size
        return evicted

    def remove(self, key: str) -> None:
        self.used -= self._sizes.pop(key, 0)


class FIFO(LRU):
    """First in, first out: hits change nothing (the baseline S3-FIFO builds on)."""

    def touch(self, key: str) -> None:
        return None


class S3FIFO:
    """S3-FIFO (Yang et al., SOSP '23): a small probationary FIFO, a main FIFO, and a ghost FIFO of
    recently evicted keys. One-hit wonders leave from the small queue without polluting main;
    objects hit while in small, or seen again while ghosts, go to main; main re-inserts objects that
    were hit (2-bit frequency) instead of evicting them. Sizes, tuned on the Zipf segment traces of
    `bench/cache_policy.py` (+0.015 to +0.05 of MIN's byte hit ratio at every cache size): small 5% of
    the bytes (paper: 10%), ghosts a quarter of main's bytes (paper: as many as main) — a ghost hit
    skips the frequency test, so only a quick return should count as one.
    """

    MAX_FREQ = 3

    def __init__(self, capacity: int, small_fraction: float = 0.05, ghost_fraction: float = 0.25) -> None:
        self.capacity, self.used = capacity, 0
        self.small_target = max(1, int(capacity * small_fraction))
        self.ghost_target = int((capacity - self.small_target) * ghost_fraction)
        self._small: OrderedDict[str, int] = OrderedDict()
        self._main: OrderedDict[str, int] = OrderedDict()
        self._ghost: OrderedDict[str, int] = OrderedDict()
        self._ghost_bytes = 0
        self._freq: dict[str, int] = {}
        self._small_bytes = 0

    def __contains__(self, key: object) -> bool:
        return key in self._freq

    def __len__(self) -> int:
        return len(self._freq)

    def touch(self, key: str) -> None:
        if key in self._freq:
            self._freq[key] = min(self._freq[key] + 1, self.MAX_FREQ)

    def admit(self, key: str, size: int) -> list[str]:
        self.remove(key)
        if size > self.capacity:
            return []
        evicted: list[str] = []
        while self.used + size > self.capacity:
            self._evict_one(evicted)
        if key in self._ghost:
            self._ghost_bytes -= self._ghost.pop(key)
            self._main[key] = size
        else:
            self._small[key] = size
            self._small_bytes += size
        self._freq[key] = 0
        self.used += size
        return evicted

    def remove(self, key: str) -> None:
        if key not in self._freq:
            return
        del self._freq[key]
        if key in self._small:
            size = self._small.pop(key)
            self._small_bytes -= size
        else:
            size = self._main.pop(key)
        self.used -= size

    def _evict_one(self, evicted: list[str]) -> None:
        if self._small and (self._small_bytes >= self.small_target or not self._main):
            self._evict_small(evicted)
        else:
            self._evict_main(evicted)

    def _evict_small(self, evicted: list[str]) -> None:
        key, size = self._small.popitem(last=False)
        self._small_bytes -= size
        if self._freq[key] > 0:
            self._freq[key] = 0
            self._main[key] = size
            return
        del self._freq[key]
        self.used -= size
        evicted.append(key)
        self._remember_ghost(key, size)

    def _evict_main(self, evicted: list[str]) -> None:
        key, size = self._main.popitem(last=False)
        if self._freq[key] > 0:
            self._freq[key] -= 1
            self._main[key] = size
            return
        del self._freq[key]
        self.used -= size
        evicted.append(key)

    def _remember_ghost(self, key: str, size: int) -> None:
        self._ghost[key] = size
        self._ghost_bytes += size
        while self._ghost_bytes > self.ghost_target:
            self._ghost_bytes -= self._ghost.popitem(last=False)[1]


class WTinyLFU:
    """W-TinyLFU (Einziger, Friedman and Manes, ACM ToS 2017), counting bytes: new objects enter a
    small LRU window (1%); when they leave it they join main only if they were requested more often
    than the objects they would push out, and main evicts its least frequently requested object
    (oldest first among equals), so the cache converges on the most popular objects. Frequencies are
    exact counts halved every `sample_factor` x (objects cached) requests (TinyLFU's reset): 40, not
    the paper's 10, because a byte-sized edge holds few large segments and 10 x few requests is too
    short a sample to tell popular segments from lucky ones (+0.13 of MIN's BHR at 1% cache).
    """

    def __init__(self, capacity: int, window_fraction: float = 0.01, sample_factor: int = 40) -> None:
        self.capacity, self.used = capacity, 0
        self.window_target = max(1, int(capacity * window_fraction))
        self.sample_factor = sample_factor
        self._window: OrderedDict[str, int] = OrderedDict()
        self._window_bytes = 0
        self._main = _FrequencyOrder()
        self._freq: dict[str, int] = {}
        self._counted = 0

    def __contains__(self, key: object) -> bool:
        return key in self._window or key in self._main

    def __len__(self) -> int:
        return len(self._window) + len(self._main)

    def touch(self, key: str) -> None:
        self._count(key)
        if key in self._window:
            self._window.move_to_end(key)
        elif key in self._main:
            self._main.update(key, self._freq[key])

    def admit(self, key: str, size: int) -> list[str]:
        self.remove(key)
        self._count(key)
        if size > self.capacity:
            return []
        self._window[key] = size
        self._window_bytes += size
        self.used += size
        evicted: list[str] = []
        while self._window and (self._window_bytes > self.window_target or self.used > self.capacity):
            self._leave_window(evicted)
        while self.used > self.capacity:
            self.used -= self._main.evict(self._main.coldest(1)[0])
        return [k for k in evicted if k != key]

    def remove(self, key: str) -> None:
        if key in self._window:
            size = self._window.pop(key)
            self._window_bytes -= size
        elif key in self._main:
            size = self._main.evict(key)
        else:
            return
        self.used -= size

    def _leave_window(self, evicted: list[str]) -> None:
        """The window's oldest object joins main if it beats the main objects it would displace."""
        key, size = self._window.popitem(last=False)
        self._window_bytes -= size
        victims = self._main.coldest(self.used - self.capacity)
        if victims and sum(self._freq.get(v, 0) for v in victims) >= self._freq.get(key, 0):
            self.used -= size
            evicted.append(key)
            return
        for old in victims:
            self.used -= self._main.evict(old)
            evicted.append(old)
        self._main.add(key, size, self._freq.get(key, 0))

    def _count(self, key: str) -> None:
        self._freq[key] = self._freq.get(key, 0) + 1
        self._counted += 1
        # the cheap test first: len(self) on every request cost 7-11% of a replay's CPU
        if self._counted >= self.sample_factor * 100 and self._counted >= self.sample_factor * len(self):
            self._freq = {k: n // 2 for k, n in self._freq.items() if n > 1}
            self._counted = 0
            self._main.reorder(self._freq)


class _FrequencyOrder:
    """W-TinyLFU's main region: object sizes, and a lazy min-heap of (frequency, stamp, key) whose
    stale entries (older stamp, or evicted) are skipped; the stamp orders equals oldest first."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self._stamp: dict[str, int] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._tick = 0

    def __contains__(self, key: object) -> bool:
        return key in self.sizes

    def __len__(self) -> int:
        return len(self.sizes)

    def add(self, key: str, size: int, freq: int) -> None:
        self.sizes[key] = size
        self.update(key, freq)

    def update(self, key: str, freq: int) -> None:
        self._tick += 1
        self._stamp[key] = self._tick
        heapq.heappush(self._heap, (freq, self._tick, key))
        if len(self._heap) > 2 * len(self.sizes) + 64:
            self._heap = [entry for entry in self._heap if self._stamp.get(entry[2]) == entry[1]]
            heapq.heapify(self._heap)

    def evict(self, key: str) -> int:
        del self._stamp[key]
        return self.sizes.pop(key)

    def coldest(self, nbytes: int) -> list[str]:
        """The least frequent objects (oldest first among equals) holding at least `nbytes` bytes,
        or all of them if main holds fewer; the order is left as it was."""
        taken: list[tuple[int, int, str]] = []
        freed = 0
        while freed < nbytes and self._heap:
            entry = heapq.heappop(self._heap)
            if self._stamp.get(entry[2]) == entry[1]:
                taken.append(entry)
                freed += self.sizes[entry[2]]
        for entry in taken:
            heapq.heappush(self._heap, entry)
        return [key for _, _, key in taken]

    def reorder(self, freq: dict[str, int]) -> None:
        """After the counts were halved: rebuild the heap from them, keeping each object's stamp."""
        self._heap = [(freq.get(key, 0), stamp, key) for key, stamp in self._stamp.items()]
        heapq.heapify(self._heap)


def _session_aware(capacity: int) -> CachePolicy:
    from server.cdn.session_policy import SessionAware  # its own module: it also knows viewers

    return SessionAware(capacity)


POLICIES: dict[str, Callable[[int], CachePolicy]] = {"lru": LRU, "fifo": FIFO, "s3fifo": S3FIFO,
                                                     "wtinylfu": WTinyLFU, "session": _session_aware}


def make_policy(name: str, capacity: int) -> CachePolicy:
    """A policy from the registry by name (`lru`, `fifo`, `s3fifo`, `wtinylfu`, `session`)."""
    try:
        return POLICIES[name](capacity)
    except KeyError:
        from server.errors import InvalidRequest

        raise InvalidRequest(f"Unknown eviction policy {name!r}.",
                             hint=f"one of {sorted(POLICIES)}") from None
