"""Eviction policies behind one registry, all counting bytes: LRU, FIFO, S3-FIFO (SOSP '23) and
W-TinyLFU (ACM ToS '17).

A policy only decides; the edge owns the files. `admit(key, size)` inserts and returns the keys it
evicted to make room (an object larger than the whole cache is not admitted); `touch(key)` records a
hit; `remove(key)` forgets an object the edge dropped for another reason (TTL, origin 404).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class CachePolicy(Protocol):
    capacity: int
    used: int

    def __contains__(self, key: object) -> bool: ...
    def __len__(self) -> int: ...
    def touch(self, key: str) -> None: ...
    def admit(self, key: str, size: int) -> list[str]: ...
    def remove(self, key: str) -> None: ...


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
    """S3-FIFO (Yang et al., SOSP '23): a small probationary FIFO (10% of bytes), a main FIFO, and a
    ghost FIFO of recently evicted keys. One-hit wonders leave from the small queue without
    polluting main; objects hit while in small, or seen again while ghosts, go to main; main
    re-inserts objects that were hit (2-bit frequency) instead of evicting them."""

    MAX_FREQ = 3

    def __init__(self, capacity: int, small_fraction: float = 0.1) -> None:
        self.capacity, self.used = capacity, 0
        self.small_target = max(1, int(capacity * small_fraction))
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
        while self._ghost_bytes > self.capacity - self.small_target:
            self._ghost_bytes -= self._ghost.popitem(last=False)[1]


class WTinyLFU:
    """W-TinyLFU (Einziger, Friedman and Manes, ACM ToS 2017), counting bytes: new objects enter a
    small LRU window (1%); when they leave it they join the main LRU only if they were requested
    more often than the objects they would push out. Frequencies are exact counts halved every
    10 x (objects cached) requests (TinyLFU's reset), which keeps them recent and their table small.
    """

    def __init__(self, capacity: int, window_fraction: float = 0.01) -> None:
        self.capacity, self.used = capacity, 0
        self.window_target = max(1, int(capacity * window_fraction))
        self._window: OrderedDict[str, int] = OrderedDict()
        self._window_bytes = 0
        self._main: OrderedDict[str, int] = OrderedDict()
        self._freq: dict[str, int] = {}
        self._counted = 0

    def __contains__(self, key: object) -> bool:
        return key in self._window or key in self._main

    def __len__(self) -> int:
        return len(self._window) + len(self._main)

    def touch(self, key: str) -> None:
        self._count(key)
        queue = self._window if key in self._window else self._main
        if key in queue:
            queue.move_to_end(key)

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
            old, old_size = self._main.popitem(last=False)
            self.used -= old_size
            evicted.append(old)
        return [k for k in evicted if k != key]

    def remove(self, key: str) -> None:
        if key in self._window:
            size = self._window.pop(key)
            self._window_bytes -= size
        elif key in self._main:
            size = self._main.pop(key)
        else:
            return
        self.used -= size

    def _leave_window(self, evicted: list[str]) -> None:
        """The window's oldest object joins main if it beats the main objects it would displace."""
        key, size = self._window.popitem(last=False)
        self._window_bytes -= size
        victims, freed = [], 0
        for old, old_size in self._main.items():
            if self.used - freed <= self.capacity:
                break
            victims.append(old)
            freed += old_size
        if victims and sum(self._freq.get(v, 0) for v in victims) >= self._freq.get(key, 0):
            self.used -= size
            evicted.append(key)
            return
        for old in victims:
            self.used -= self._main.pop(old)
            evicted.append(old)
        self._main[key] = size

    def _count(self, key: str) -> None:
        self._freq[key] = self._freq.get(key, 0) + 1
        self._counted += 1
        if self._counted >= 10 * max(100, len(self)):
            self._freq = {k: n // 2 for k, n in self._freq.items() if n > 1}
            self._counted = 0


POLICIES: dict[str, Callable[[int], CachePolicy]] = {"lru": LRU, "fifo": FIFO, "s3fifo": S3FIFO,
                                                     "wtinylfu": WTinyLFU}


def make_policy(name: str, capacity: int) -> CachePolicy:
    """A policy from the registry by name (`lru`, `fifo`, `s3fifo`, `wtinylfu`)."""
    try:
        return POLICIES[name](capacity)
    except KeyError:
        from server.errors import InvalidRequest

        raise InvalidRequest(f"Unknown eviction policy {name!r}.",
                             hint=f"one of {sorted(POLICIES)}") from None
