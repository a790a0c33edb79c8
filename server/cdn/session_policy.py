"""A session-aware edge cache: it knows where each viewer is in each title and what that viewer asks
for next, which no general-purpose policy (LRU, S3-FIFO, W-TinyLFU) can see.

A viewer at segment k of a rendition asks for k+1 next, unless they stop watching. So each cached
segment has an expected request rate from two sources:

- **Viewers behind it on the same rendition.** A viewer at segment j < k reaches k with probability
  q^(k-j), where q is the measured chance that a viewer goes on to the next segment, in about
  (k-j) x pace requests. Pace is the measured number of edge requests between one viewer's
  consecutive requests.
- **Viewers who have not started yet.** A rendition's sessions start at a measured (decayed) rate,
  and a fraction q^k of them reaches segment k.

Eviction takes the cached object with the lowest rate: a segment every active viewer has passed
keeps only its second source. Victims come from a random sample of the cache (as Redis's sampled
eviction does), so a request costs O(sample), not a re-rank of the whole cache. An object is
admitted only if its rate beats the victims it would displace. Optionally, the next segment of each
active viewer is **prefetched** within a byte budget (a share of the bytes requested), so a viewer
that keeps watching finds it cached. The edge's fill step fetches what `prefetch()` names; the
simulator counts those bytes as origin egress.

Without session information (`observe` is never called) every object has only its popularity
source, estimated from request counts, and the policy acts as a sampled LFU.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

SEGMENT = re.compile(r"^(?P<stream>.*)/seg_(?P<k>\d+)\.m4s$")   # videos/<id>/cmaf/<rung>/seg_00012.m4s
SAMPLE = 24                 # cached objects looked at per eviction
DECAY_EVERY = 80_000        # requests between halvings of the popularity counters (20 000: 0.968 of the
                            # ceiling at alpha 0.8, 10%, seed 1; 80 000: 0.976; 160 000: 0.977)
IDLE_PACES = 6.0            # a viewer silent this many of its paces has left
NO_SESSION_RATE = 1e-9      # rate floor, so that unknown objects still order by popularity


@dataclass
class _Viewer:
    stream: str
    segment: int
    step: int               # the edge request count at the viewer's last request
    digits: int = 5         # how wide the rendition's segment numbers are written


def parse_segment(key: str) -> tuple[str, int] | None:
    """(rendition prefix, segment number) of a media segment's key; None for anything else."""
    found = SEGMENT.match(key)
    return (found["stream"], int(found["k"])) if found else None


class SessionAware:
    """The session-aware policy (registry name `session`); see the module docstring."""

    def __init__(self, capacity: int, prefetch_share: float = 0.1, sample: int = SAMPLE,
                 seed: int = 0) -> None:
        self.capacity, self.used = capacity, 0
        self.prefetch_share, self.sample = prefetch_share, sample
        self._rng = random.Random(seed)
        self._sizes: dict[str, int] = {}
        self._keys: list[str] = []              # the cached keys, for sampling
        self._slot: dict[str, int] = {}         # key -> its index in _keys
        self._viewers: dict[str, _Viewer] = {}
        self._behind: dict[str, list[int]] = {}  # rendition -> segments its active viewers are at
        self._starts: dict[str, float] = {}     # rendition -> decayed count of session starts
        self._hits: dict[str, float] = {}       # key -> decayed request count (popularity w/o sessions)
        self._step = 0                          # requests seen (by `observe`, else by touch/admit)
        self._observed = False                  # told of viewers: `observe` counts the requests
        self._decayed_at = 0                    # the step of the last halving (once per step)
        self._pace = 20.0                       # requests between one viewer's consecutive requests
        self._went_on, self._stopped = 1.0, 0.0  # decayed counts of viewers continuing / leaving
        self._wanted: list[str] = []
        self._requested_bytes = 0
        self.prefetched_bytes = 0

    # -- the CachePolicy protocol (and SessionPolicy: observe, prefetch, prefetched) ---------
    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)

    def touch(self, key: str) -> None:
        self._count(key)

    def admit(self, key: str, size: int) -> list[str]:
        """Insert `key` if it is worth more than what it displaces; the keys evicted for it."""
        self.remove(key)
        self._count(key)
        if size > self.capacity:
            return []
        rate = self.rate(key)
        evicted: list[str] = []
        while self.used + size > self.capacity:
            victim = self._coldest()
            if victim is None or self.rate(victim) > rate:
                return evicted             # what it would push out is worth more: bypass
            evicted.append(victim)
            self.remove(victim)
        self._insert(key, size)
        return evicted

    def remove(self, key: str) -> None:
        size = self._sizes.pop(key, None)
        if size is None:
            return
        self.used -= size
        slot = self._slot.pop(key)
        last = self._keys.pop()
        if last != key:
            self._keys[slot], self._slot[last] = last, slot

    # -- what only this policy is told ------------------------------------------------------------
    def observe(self, key: str, session: str, size: int = 0) -> None:
        """A request of viewer `session` (the router's session tag) for `key`, before touch/admit."""
        self._step += 1
        self._observed = True
        self._requested_bytes += size
        self._forget_idle()
        place = parse_segment(key)
        if place is None or not session:
            return
        stream, segment = place
        viewer = self._viewers.get(session)
        if viewer is not None and viewer.stream == stream and segment == viewer.segment + 1:
            self._pace += 0.01 * (self._step - viewer.step - self._pace)
            self._went_on += 1
            self._leave_spot(viewer)
        elif viewer is not None:
            self._leave(session)
            viewer = None
        if viewer is None:
            self._starts[stream] = self._starts.get(stream, 0.0) + 1
            viewer = self._viewers[session] = _Viewer(stream, segment, self._step)
        viewer.segment, viewer.step = segment, self._step
        viewer.digits = len(key.rsplit("seg_", 1)[1]) - len(".m4s")
        self._behind.setdefault(stream, []).append(segment)
        self._want_next(f"{stream}/seg_{segment + 1:0{viewer.digits}d}.m4s")

    def prefetch(self) -> list[str]:
        """Keys worth fetching before they are asked for (next segments of active viewers); drained."""
        wanted, self._wanted = self._wanted, []
        return wanted

    def prefetched(self, key: str, size: int) -> None:
        """The edge fetched `key` on `prefetch()`'s word: cache it and count its bytes."""
        self.prefetched_bytes += size
        if key not in self._sizes:
            self.admit(key, size)

    # -- rates --------------------------------------------------------------------------------------
    def rate(self, key: str) -> float:
        """Expected requests per edge request for `key`: from viewers behind it, and from new ones."""
        place = parse_segment(key)
        if place is None:
            return self._hits.get(key, 0.0) / DECAY_EVERY + NO_SESSION_RATE
        stream, segment = place
        q = self._went_on / (self._went_on + self._stopped)
        behind = sum(q ** (segment - j) / ((segment - j) * self._pace)
                     for j in self._behind.get(stream, ()) if j < segment)
        new = self._starts.get(stream, 0.0) / DECAY_EVERY * q ** segment
        return behind + new + self._hits.get(key, 0.0) / DECAY_EVERY * NO_SESSION_RATE

    def _coldest(self) -> str | None:
        if not self._keys:
            return None
        picks = self._keys if len(self._keys) <= self.sample else \
            (self._keys[self._rng.randrange(len(self._keys))] for _ in range(self.sample))
        return min(picks, key=self.rate)

    # -- bookkeeping ----------------------------------------------------------------------------------
    def _insert(self, key: str, size: int) -> None:
        self._sizes[key] = size
        self._slot[key] = len(self._keys)
        self._keys.append(key)
        self.used += size

    def _count(self, key: str) -> None:
        self._hits[key] = self._hits.get(key, 0.0) + 1
        if not self._observed:              # no viewers: each touch/admit is one request
            self._step += 1
        if self._step % DECAY_EVERY == 0 and self._step != self._decayed_at:
            self._decayed_at = self._step
            self._hits = {k: n / 2 for k, n in self._hits.items() if n > 1}
            self._starts = {k: n / 2 for k, n in self._starts.items() if n > 0.5}
            self._went_on, self._stopped = self._went_on / 2, self._stopped / 2

    def _want_next(self, nxt: str) -> None:
        budget = self.prefetch_share * self._requested_bytes
        if self.prefetch_share > 0 and nxt not in self._sizes and self.prefetched_bytes < budget:
            self._wanted.append(nxt)

    def _leave_spot(self, viewer: _Viewer) -> None:
        spots = self._behind.get(viewer.stream, [])
        if viewer.segment in spots:
            spots.remove(viewer.segment)

    def _leave(self, session: str) -> None:
        viewer = self._viewers.pop(session)
        self._leave_spot(viewer)
        self._stopped += 1

    def _forget_idle(self) -> None:
        if self._step % 64:
            return
        limit = IDLE_PACES * self._pace
        for session in [s for s, v in self._viewers.items() if self._step - v.step > limit]:
            self._leave(session)

    def viewers(self) -> Iterator[tuple[str, str, int]]:
        """(session, rendition, segment) of every viewer seen as active."""
        return ((s, v.stream, v.segment) for s, v in self._viewers.items())


def expected_gap(rate: float) -> float:
    """Requests until the next use at `rate` (inf for 0): what Belady would rank by."""
    return math.inf if rate <= 0 else 1 / rate
