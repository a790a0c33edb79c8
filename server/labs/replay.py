"""Replay one trace against one what-if setting: a policy, a cache size per edge, a number of edges and a
TTL; hit ratio, byte hit ratio, origin egress and a p95 latency estimate, and Belady's MIN as ceiling.

Edges: requests are split by consistent hashing of the title (`server/cdn/ring.py`), as the CDN places
a title on its home edge of a region; each edge has its own cache of the given size. TTL: an object is
fresh for `ttl_s` seconds after it was fetched; a request after that is a miss that fetches it again.
Belady's MIN ignores the TTL: a ceiling without expiry is still a ceiling.

Proactive fill (as `server/cdn/fill.py` does off-peak): at the start of every fill period (a day by
default) the `fill_titles` titles most requested in the period before are pushed, every object of
theirs the trace knows, to their home edge (admitted through the edge's policy like any fill). Only
the past ranks titles, so the first period gets no fill; the pushed bytes are counted apart from the
misses (`fill_bytes`: origin egress off-peak).

Latency model (time to last byte, what a player waits for a segment): a hit costs the edge's round
trip plus the object at the edge's bandwidth; a miss adds the origin's round trip plus the object at
the origin link's bandwidth (the edge pulls before it serves, as a store-and-forward cache does). The
edge figures are the medians of the CDN topology's edges; the origin's are `ORIGIN_RTT_MS` and
`ORIGIN_MBPS`. No queueing: an estimate of the cache's share of latency, not a load test.
"""

from __future__ import annotations

import statistics
from array import array
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from server.cdn import simulate
from server.cdn.policies import CachePolicy, make_policy
from server.cdn.ring import HashRing
from server.cdn.topology import Topology
from server.errors import InvalidRequest
from server.labs.trace import ReplayTrace

BELADY = "belady"
ORIGIN_RTT_MS = 80.0     # an origin in another region than the edge (a typical inter-region round trip)
ORIGIN_MBPS = 1000.0     # the edge's link to the origin
MIN_FILL_PERIOD_S = 60.0


@dataclass(frozen=True)
class Latency:
    """The latency model's four figures (see the module docstring)."""

    edge_rtt_ms: float = 10.0
    edge_mbps: float = 400.0
    origin_rtt_ms: float = ORIGIN_RTT_MS
    origin_mbps: float = ORIGIN_MBPS

    @classmethod
    def from_topology(cls, topology: Topology) -> Latency:
        """The median edge's round trip and bandwidth (an uncapped edge counts as 10 Gbit/s)."""
        rtt = statistics.median(e.rtt_ms for e in topology.edges)
        mbps = statistics.median(e.bandwidth_mbps or 10_000.0 for e in topology.edges)
        return cls(float(rtt), float(mbps))

    def hit_ms(self, size: int) -> float:
        return self.edge_rtt_ms + size * 8 / (self.edge_mbps * 1000)

    def miss_ms(self, size: int) -> float:
        return self.hit_ms(size) + self.origin_rtt_ms + size * 8 / (self.origin_mbps * 1000)


@dataclass(frozen=True)
class Outcome:
    """One replay: `bytes` requested, `hit_bytes` served from cache; p95 is None for Belady."""

    policy: str
    cache_bytes: int
    edges: int
    ttl_s: float
    requests: int
    hits: int
    bytes: int
    hit_bytes: int
    p95_ms: float | None
    fill_titles: int = 0
    fill_bytes: int = 0

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0

    @property
    def byte_hit_ratio(self) -> float:
        return self.hit_bytes / self.bytes if self.bytes else 0.0

    @property
    def origin_bytes(self) -> int:
        """Egress from the origin: every miss pulls its whole object."""
        return self.bytes - self.hit_bytes

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "hit_ratio": self.hit_ratio, "byte_hit_ratio": self.byte_hit_ratio,
                "origin_bytes": self.origin_bytes}


def partitions(trace: ReplayTrace, edges: int) -> list[array[int]]:
    """The trace's request ids per edge, each title on its consistent-hashing home edge."""
    if edges <= 1:
        return [trace.ids]
    ring = HashRing([f"edge-{n + 1}" for n in range(edges)])
    slot = {name: n for n, name in enumerate(ring.nodes)}
    home = {title: slot[ring.nodes_for(title)[0]] for title in set(trace.titles)}
    edge_of = [home[title] for title in trace.titles]
    parts: list[array[int]] = [array("l") for _ in range(edges)]
    appends = [part.append for part in parts]
    for oid in trace.ids:
        appends[edge_of[oid]](oid)
    return parts


@dataclass(frozen=True)
class Fill:
    """Push the `titles` most requested titles of the last `period_s` to their home edges, each period
    (at least a minute apart: a fill service works in windows, not per request)."""

    titles: int = 0
    period_s: float = 86400.0


def replay(trace: ReplayTrace, policy: str, cache_bytes: int, *, edges: int = 1, ttl_s: float = 0.0,
           latency: Latency | None = None, parts: Sequence[array[int]] | None = None,
           fill: Fill | None = None) -> Outcome:
    """Serve the trace through `edges` caches of `policy`, `cache_bytes` each (`parts`: reuse a split)."""
    hits_of = array("l", [0]) * len(trace.keys)
    filled = 0
    plan = FillPlan(trace, fill) if fill is not None and fill.titles > 0 else None
    for part in parts if parts is not None else partitions(trace, edges):
        cache = make_policy(policy, cache_bytes)
        if plan is not None:
            filled += _serve_filled(cache, trace, part, hits_of, ttl_s, plan)
        elif ttl_s > 0:
            _serve_ttl(cache, trace, part, hits_of, ttl_s)
        else:
            _serve(cache, trace.keys, trace.sizes, part, hits_of)
    outcome = _outcome(trace, policy, cache_bytes, edges, ttl_s, hits_of, latency or Latency())
    return replace(outcome, fill_titles=plan.fill.titles, fill_bytes=filled) if plan else outcome


class FillPlan:
    """Per fill period, the objects of the titles ranked highest in the period before (whole trace)."""

    def __init__(self, trace: ReplayTrace, fill: Fill) -> None:
        if fill.period_s < MIN_FILL_PERIOD_S:
            raise InvalidRequest(f"The fill period must be at least {MIN_FILL_PERIOD_S:g} seconds.")
        self.fill = fill
        counts: dict[int, Counter[str]] = defaultdict(Counter)
        for oid, at in zip(trace.ids, trace.times, strict=True):
            counts[self.period(at)][trace.titles[oid]] += 1
        self.objects: dict[str, list[int]] = defaultdict(list)
        for oid, title in enumerate(trace.titles):
            self.objects[title].append(oid)
        self.ranked = {p + 1: [title for title, _ in ranked.most_common(fill.titles)]
                       for p, ranked in counts.items()}
        self.last = self.period(trace.times[-1]) if len(trace) else 0

    def period(self, at: float) -> int:
        return int(at // self.fill.period_s)

    def due(self, after: int | None, upto: int) -> list[int]:
        """The fill periods that start after period `after` and no later than `upto`, in order."""
        return sorted(p for p in self.ranked if (after is None or p > after) and p <= upto)

    def pushes(self, period: int, titles: set[str]) -> list[int]:
        """The objects pushed at the start of `period` to an edge homing `titles`, most popular first."""
        ranked = self.ranked.get(period, ())
        return [oid for title in ranked if title in titles for oid in self.objects[title]]


def _serve_filled(cache: CachePolicy, trace: ReplayTrace, ids: array[int], hits_of: array[int],
                  ttl_s: float, plan: FillPlan) -> int:
    """As `_serve_ttl` (TTL 0: never expires), with the fill pushed at each period's start; returns
    the bytes pushed. Only objects of this edge's own titles are pushed to it."""
    keys, sizes, times = trace.keys, trace.sizes, trace.times
    mine = {trace.titles[oid] for oid in set(ids)}
    fetched: dict[int, float] = {}
    current: int | None = None
    pushed = 0

    def push(upto: int) -> None:
        """Every fill due since the last request's period, this edge's own titles only."""
        nonlocal pushed
        for period in plan.due(current, upto):
            for oid in plan.pushes(period, mine):
                if keys[oid] not in cache:
                    cache.admit(keys[oid], sizes[oid])
                    fetched[oid] = period * plan.fill.period_s
                    pushed += sizes[oid]

    for oid, at in zip(ids, (times[p] for p in _positions(trace, ids)), strict=True):
        period = plan.period(at)
        if period != current:
            push(period)
            current = period
        key = keys[oid]
        if key in cache and (ttl_s <= 0 or at - fetched.get(oid, at) < ttl_s):
            cache.touch(key)
            hits_of[oid] += 1
            continue
        cache.remove(key)
        cache.admit(key, sizes[oid])
        fetched[oid] = at
    push(plan.last)        # the fills after this edge's last request still leave the origin
    return pushed


def _serve(cache: CachePolicy, keys: list[str], sizes: list[int], ids: array[int],
           hits_of: array[int]) -> None:
    """The hot loop: admit on every miss, count hits per object (no per-request output)."""
    touch, admit = cache.touch, cache.admit
    for oid in ids:
        key = keys[oid]
        if key in cache:
            touch(key)
            hits_of[oid] += 1
        else:
            admit(key, sizes[oid])


def _serve_ttl(cache: CachePolicy, trace: ReplayTrace, ids: array[int], hits_of: array[int],
               ttl_s: float) -> None:
    """As `_serve`, but a hit on an object older than `ttl_s` is a miss that fetches it again."""
    keys, sizes, times = trace.keys, trace.sizes, trace.times
    fetched: dict[int, float] = {}
    positions = _positions(trace, ids)
    for oid, at in zip(ids, (times[p] for p in positions), strict=True):
        key = keys[oid]
        if key in cache and at - fetched[oid] < ttl_s:
            cache.touch(key)
            hits_of[oid] += 1
            continue
        cache.remove(key)
        cache.admit(key, sizes[oid])
        fetched[oid] = at


def _positions(trace: ReplayTrace, ids: array[int]) -> Sequence[int]:
    """Where each of a partition's requests sits in the whole trace (for its time)."""
    if ids is trace.ids:
        return range(len(ids))
    wanted = set(ids)
    return [i for i, oid in enumerate(trace.ids) if oid in wanted]


def _outcome(trace: ReplayTrace, policy: str, cache_bytes: int, edges: int, ttl_s: float,
             hits_of: array[int], latency: Latency) -> Outcome:
    asked = trace.requests_per_object
    sizes = trace.sizes
    hits = sum(hits_of)
    hit_bytes = sum(h * s for h, s in zip(hits_of, sizes, strict=True))
    total = sum(n * s for n, s in zip(asked, sizes, strict=True))
    weighted = [(latency.hit_ms(s), h) for s, h in zip(sizes, hits_of, strict=True) if h]
    weighted += [(latency.miss_ms(s), n - h) for s, n, h in zip(sizes, asked, hits_of, strict=True) if n > h]
    return Outcome(policy, cache_bytes, edges, ttl_s, len(trace), hits, total, hit_bytes,
                   quantile(weighted, 0.95))


def quantile(weighted: list[tuple[float, int]], q: float) -> float | None:
    """The q-quantile of values given with their counts (None when there are none)."""
    total = sum(n for _, n in weighted)
    if total == 0:
        return None
    rank, seen = q * total, 0
    for value, n in sorted(weighted):
        seen += n
        if seen >= rank:
            return round(value, 3)
    return round(max(v for v, _ in weighted), 3)


def belady(trace: ReplayTrace, cache_bytes: int, *, edges: int = 1,
           parts: Sequence[array[int]] | None = None) -> Outcome:
    """Belady's MIN (with bypass, `simulate.belady`) on each edge's share of the trace: the ceiling."""
    keys, sizes = trace.keys, trace.sizes
    hits = hit_bytes = total = 0
    for part in parts if parts is not None else partitions(trace, edges):
        stats = simulate.belady([(keys[o], sizes[o]) for o in part], cache_bytes)
        hits, hit_bytes, total = hits + stats.hits, hit_bytes + stats.hit_bytes, total + stats.bytes
    return Outcome(BELADY, cache_bytes, edges, 0.0, len(trace), hits, total, hit_bytes, None)
