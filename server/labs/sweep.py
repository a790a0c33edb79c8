"""A what-if sweep: every cache size x policy of one trace (plus Belady's MIN per size), and per policy
the smallest cache size per edge that reaches a target hit ratio ("your edges would need 3.2 GiB to
reach 90%"), found by bisection between the sweep's sizes.

Bisection assumes the hit ratio grows with the cache size, true for LRU (a stack algorithm) and close
to true for the others (FIFO can show Belady's anomaly): the size found reaches the target, a smaller
one might too.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from server.cdn.policies import POLICIES, SessionPolicy, make_policy
from server.errors import InvalidRequest
from server.labs.replay import BELADY, MIN_FILL_PERIOD_S, Fill, Latency, Outcome, belady, partitions, replay
from server.labs.trace import ReplayTrace

MIB = 1024 * 1024
UNITS = {"": 1, "K": 1024, "M": MIB, "G": 1024 * MIB, "T": 1024 * 1024 * MIB}
SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)
MAX_SIZES = 24
MAX_FILL_TITLES = 10_000
BISECT_STEPS = 12
BISECT_PRECISION = 0.01      # stop when the bracket is within 1% of its upper end (or 64 KiB)
Progress = Callable[[int, int], None]


def parse_size(text: str) -> int:
    """`64M` → 67108864 (binary units: K, M, G, T; an optional B or iB)."""
    match = SIZE_RE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise InvalidRequest(f"Cache size {text.strip()[:40]!r} is not a size like 64M, 512M or 2G.")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def parse_sizes(text: str) -> tuple[int, ...]:
    """`64M,256M,1G` → sorted distinct byte counts."""
    sizes = sorted({parse_size(part) for part in text.split(",") if part.strip()})
    if not sizes or len(sizes) > MAX_SIZES:
        raise InvalidRequest(f"Give 1 to {MAX_SIZES} cache sizes, e.g. 64M,256M,1G.")
    return tuple(sizes)


def general_policies() -> list[str]:
    """The registry's policies that need only keys and sizes: `all` means these. The session-aware
    policy also needs each request's viewer, which replay traces do not carry; asked for by name, it
    runs without them (as a sampled LFU)."""
    return [name for name in POLICIES if not isinstance(make_policy(name, 1), SessionPolicy)]


def parse_policies(text: str) -> tuple[str, ...]:
    """`lru,wtinylfu` (or `all`: every general policy) → the registry's names, checked."""
    names = general_policies() if text.strip().lower() in ("", "all") else [
        p.strip().lower() for p in text.split(",") if p.strip()]
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise InvalidRequest(f"Unknown eviction policy {unknown[0]!r}.", hint=f"one of {', '.join(POLICIES)}")
    return tuple(dict.fromkeys(names))


def format_size(nbytes: float) -> str:
    """1610612736 → `1.5 GiB`."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024:
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"


@dataclass(frozen=True)
class WhatIf:
    """The settings to try: cache sizes per edge, policies, edges, TTL (0: never expires), target."""

    sizes: tuple[int, ...]
    policies: tuple[str, ...] = tuple(POLICIES)
    edges: int = 1
    ttl_s: float = 0.0
    target: float = 0.9
    latency: Latency = field(default_factory=Latency)
    fill: Fill = field(default_factory=Fill)

    def __post_init__(self) -> None:
        if not self.sizes or min(self.sizes) <= 0:
            raise InvalidRequest("Give at least one cache size above zero, e.g. 64M,256M,1G.")
        if not 1 <= self.edges <= 256:
            raise InvalidRequest(f"Number of edges must be 1 to 256, not {self.edges}.")
        if self.ttl_s < 0 or not 0 < self.target < 1:
            raise InvalidRequest("TTL must be >= 0 seconds and the target hit ratio between 0 and 1.")
        if not 0 <= self.fill.titles <= MAX_FILL_TITLES or self.fill.period_s < MIN_FILL_PERIOD_S:
            raise InvalidRequest(f"Fill: 0 to {MAX_FILL_TITLES} titles per period, and a period of at "
                                 f"least {MIN_FILL_PERIOD_S:g} s.")


@dataclass(frozen=True)
class Need:
    """The smallest cache per edge found to reach `target` with `policy` (None: unreachable; `ceiling`
    is then the best hit ratio any size gives, first requests being misses)."""

    policy: str
    target: float
    cache_bytes: int | None
    hit_ratio: float
    ceiling: float

    def sentence(self, edges: int) -> str:
        who = "your edge" if edges == 1 else f"your {edges} edges"
        if self.cache_bytes is None:
            return (f"{self.policy}: {who} cannot reach {self.target:.0%} on this trace at any size "
                    f"(at most {self.ceiling:.1%}: first requests always miss)")
        each = "" if edges == 1 else " each"
        size = format_size(self.cache_bytes)
        return f"{self.policy}: {who} would need {size}{each} to reach {self.target:.0%}"


@dataclass(frozen=True)
class Sweep:
    """The sweep's points (policies and Belady), the sizes needed per policy, and the trace's summary."""

    trace: dict[str, object]
    whatif: WhatIf
    points: list[Outcome]
    needed: list[Need]

    def headline(self) -> str:
        """The sentence for the policy that needs the least cache (or the best unreachable one)."""
        if not self.needed:
            return ""
        best = min(self.needed, key=lambda n: (n.cache_bytes is None, n.cache_bytes or 0, -n.ceiling))
        if best.cache_bytes is None:
            return (f"No policy reaches {best.target:.0%} on this trace at any cache size: first requests "
                    f"always miss, so at most {best.ceiling:.1%}")
        return best.sentence(self.whatif.edges)

    def to_dict(self) -> dict[str, object]:
        w = self.whatif
        return {"trace": self.trace,
                "settings": {"sizes": list(w.sizes), "policies": list(w.policies), "edges": w.edges,
                             "ttl_s": w.ttl_s, "target": w.target, "latency": vars(w.latency),
                             "fill": vars(w.fill)},
                "points": [p.to_dict() for p in self.points],
                "needed": [{**vars(n), "sentence": n.sentence(w.edges)} for n in self.needed],
                "headline": self.headline()}


CSV_COLUMNS = ("policy", "cache_bytes", "edges", "ttl_s", "requests", "hits", "hit_ratio", "bytes",
               "hit_bytes", "byte_hit_ratio", "origin_bytes", "p95_ms", "fill_titles", "fill_bytes")


def csv_rows(points: Sequence[Outcome]) -> list[list[object]]:
    """The sweep as CSV rows under `CSV_COLUMNS`, one per policy and size."""
    return [[p.to_dict()[c] for c in CSV_COLUMNS] for p in points]


def run_sweep(trace: ReplayTrace, whatif: WhatIf, progress: Progress | None = None) -> Sweep:
    """Replay every size x policy, Belady per size, then search each policy's size for the target."""
    parts = partitions(trace, whatif.edges)
    steps = len(whatif.sizes) * (len(whatif.policies) + 1) + len(whatif.policies)
    done = 0
    points: list[Outcome] = []
    for size in whatif.sizes:
        for name in (*whatif.policies, BELADY):
            points.append(belady(trace, size, edges=whatif.edges, parts=parts) if name == BELADY else
                          replay(trace, name, size, edges=whatif.edges, ttl_s=whatif.ttl_s,
                                 latency=whatif.latency, parts=parts, fill=whatif.fill))
            done += 1
            if progress:
                progress(done, steps)
    needed = []
    for name in whatif.policies:
        needed.append(needed_size(trace, whatif, name, [p for p in points if p.policy == name], parts))
        done += 1
        if progress:
            progress(done, steps)
    return Sweep(trace.describe(), whatif, points, needed)


def needed_size(trace: ReplayTrace, whatif: WhatIf, policy: str, swept: Sequence[Outcome],
                parts: Sequence[array[int]] | None = None) -> Need:
    """Bisect for the smallest cache per edge reaching the target, between the last swept size below
    it and the first above it (or the size that holds every object of the busiest edge)."""
    def ratio(size: int) -> float:
        return replay(trace, policy, size, edges=whatif.edges, ttl_s=whatif.ttl_s, latency=whatif.latency,
                      parts=parts, fill=whatif.fill).hit_ratio

    ceiling = 1 - len(trace.keys) / len(trace) if len(trace) else 0.0
    ordered = sorted(swept, key=lambda p: p.cache_bytes)
    above = next((p for p in ordered if p.hit_ratio >= whatif.target), None)
    below = [p.cache_bytes for p in ordered if above is None or p.cache_bytes < above.cache_bytes]
    lo = max(below, default=0)
    if above is not None:
        hi, best = above.cache_bytes, above.hit_ratio
    else:
        hi = max(whatif.sizes[-1], _busiest_edge_bytes(trace, parts)) + 1
        best = ratio(hi)
        if best < whatif.target:
            return Need(policy, whatif.target, None, best, max(best, min(ceiling, 1.0)))
    for _ in range(BISECT_STEPS):
        if hi - lo <= max(64 * 1024, hi * BISECT_PRECISION):
            break
        mid = (lo + hi) // 2
        got = ratio(mid)
        lo, hi, best = (lo, mid, got) if got >= whatif.target else (mid, hi, best)
    return Need(policy, whatif.target, hi, best, ceiling)


def _busiest_edge_bytes(trace: ReplayTrace, parts: Sequence[array[int]] | None) -> int:
    """The bytes of the distinct objects of the edge that sees the most of them (all fit: no evictions)."""
    sizes = trace.sizes
    groups = parts if parts is not None else [trace.ids]
    return max(sum(sizes[o] for o in set(group)) for group in groups)
