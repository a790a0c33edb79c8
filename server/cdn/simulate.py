"""Offline cache simulation: seeded Zipf traces of segment requests (independent requests, or viewing
sessions), replay through a policy, Belady's MIN and an upper bound for variable sizes. Used by tests
and `bench/cache_policy.py`."""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass, field

from server.cdn.policies import CachePolicy, SessionPolicy
from server.errors import InvalidRequest

# A ladder like the studio's: segment bytes of a 4 s segment at each rung's bit rate.
RUNG_BITRATES = (400_000, 1_200_000, 3_000_000, 6_000_000)
RUNG_WEIGHTS = (0.1, 0.2, 0.3, 0.4)
SEGMENT_S = 4
Request = tuple[str, int]     # (object key, size in bytes)


def segment_key(title: int, rung: int, segment: int) -> str:
    """An object's key, laid out like the origin's paths (the edges' policies see keys like these)."""
    return f"videos/t{title}/cmaf/r{rung}/seg_{segment:05d}.m4s"


def segment_of(key: str) -> int:
    """The segment number in a `segment_key`."""
    return int(key.rsplit("seg_", 1)[1].split(".", 1)[0])


@dataclass(frozen=True)
class Trace:
    requests: list[Request]
    sizes: dict[str, int]              # every object of the catalog
    popularity: dict[str, float]       # each object's true request probability (for the static oracle)
    session: list[int] = field(default_factory=list)        # per request its session (session traces only)
    session_start: list[int] = field(default_factory=list)  # per session the index of its first request

    @property
    def catalog_bytes(self) -> int:
        return sum(self.sizes.values())

    @property
    def objects(self) -> int:
        return len(self.sizes)


@dataclass(frozen=True)
class Stats:
    requests: int
    hits: int
    bytes: int
    hit_bytes: int
    prefetch_bytes: int = 0            # fetched before anyone asked (session-aware prefetch)

    @property
    def origin_bytes(self) -> int:
        """What the edge pulled from the origin: its misses plus its prefetches."""
        return self.bytes - self.hit_bytes + self.prefetch_bytes

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0

    @property
    def byte_hit_ratio(self) -> float:
        return self.hit_bytes / self.bytes if self.bytes else 0.0


def zipf_trace(alpha: float, titles: int, requests: int, seed: int, *, segments: int = 60,
               mean_watch: int = 20, concurrent: int = 20) -> Trace:
    """Viewing sessions: a title by Zipf(alpha), a rung by weight, segments 0..n in order (n geometric,
    mean `mean_watch`); `concurrent` sessions interleave the way many viewers' requests do. Records each
    request's session and each session's first request (what `session_oracle` may know when)."""
    rng = random.Random(seed)
    sizes = _segment_sizes(rng, titles, segments)
    cum = list(itertools.accumulate(1 / (rank + 1) ** alpha for rank in range(titles)))
    sessions: list[list[str]] = []
    ids: list[int] = []                       # each drawn session's id, -1 until its first request
    out: list[Request] = []
    owner: list[int] = []
    starts: list[int] = []
    while len(out) < requests:
        while len(sessions) < concurrent:
            sessions.append(_session(rng, cum, segments, mean_watch))
            ids.append(-1)
        i = rng.randrange(len(sessions))
        if ids[i] < 0:
            ids[i] = len(starts)
            starts.append(len(out))
        key = sessions[i].pop()
        out.append((key, sizes[key]))
        owner.append(ids[i])
        if not sessions[i]:
            sessions.pop(i)
            ids.pop(i)
    return Trace(out, sizes, _popularity(sizes, cum, segments, mean_watch), owner, starts)


def irm_trace(alpha: float, titles: int, requests: int, seed: int, *, segments: int = 60,
              mean_watch: int = 20) -> Trace:
    """Independent references: every request draws a title by Zipf(alpha), a rung by weight and a
    segment k with probability proportional to exp(-k / mean_watch), the share of sessions that reach
    it under the session trace's geometric abandonment; same objects, sizes and popularity as
    `zipf_trace`, so the two differ only in request order."""
    rng = random.Random(seed)
    sizes = _segment_sizes(rng, titles, segments)
    cum = list(itertools.accumulate(1 / (rank + 1) ** alpha for rank in range(titles)))
    seg_cum = list(itertools.accumulate(_reach(segments, mean_watch)))
    keys = [[[segment_key(t, r, s) for s in range(segments)]
             for r in range(len(RUNG_BITRATES))] for t in range(titles)]
    title = rng.choices(range(titles), cum_weights=cum, k=requests)
    rung = rng.choices(range(len(RUNG_BITRATES)), weights=RUNG_WEIGHTS, k=requests)
    seg = rng.choices(range(segments), cum_weights=seg_cum, k=requests)
    out = [(key, sizes[key]) for key in (keys[t][r][s] for t, r, s in zip(title, rung, seg, strict=True))]
    return Trace(out, sizes, _popularity(sizes, cum, segments, mean_watch))


TRACES = {"irm": irm_trace, "session": zipf_trace}


def _reach(segments: int, mean_watch: int) -> list[float]:
    return [1.0] + [math.exp(-k / mean_watch) for k in range(1, segments)]


def _segment_sizes(rng: random.Random, titles: int, segments: int) -> dict[str, int]:
    sizes = {}
    for t, (r, rate), s in itertools.product(range(titles), enumerate(RUNG_BITRATES), range(segments)):
        sizes[segment_key(t, r, s)] = int(rate * SEGMENT_S / 8 * rng.uniform(0.6, 1.4))
    return sizes


def _popularity(sizes: dict[str, int], cum: list[float], segments: int, mean_watch: int) -> dict[str, float]:
    """P(title) x P(rung) x P(a session reaches segment k): what a perfect popularity model knows."""
    title_p = [(b - a) / cum[-1] for a, b in zip([0.0, *cum], cum, strict=False)]
    reach = _reach(segments, mean_watch)
    out = {}
    for key in sizes:
        _, title, _, rung, seg = key.split("/")
        out[key] = title_p[int(title[1:])] * RUNG_WEIGHTS[int(rung[1:])] * reach[int(seg[4:9])]
    return out


def static_oracle(trace: Trace, capacity: int, *, preload: bool = True) -> Stats:
    """The best a policy can do knowing every object's true popularity but not the order of requests:
    keep the most popular objects that fit and nothing else (optimal for independent requests, up to
    one object of knapsack rounding). Pre-loaded, or (`preload=False`) each cached at its first
    request, which misses like every online policy's cold start."""
    chosen: set[str] = set()
    used = 0
    for key in sorted(trace.popularity, key=trace.popularity.__getitem__, reverse=True):
        if used + trace.sizes[key] <= capacity:
            chosen.add(key)
            used += trace.sizes[key]
    seen: set[str] = set() if not preload else chosen
    hits = hit_bytes = 0
    for key, size in trace.requests:
        if key in chosen and key in seen:
            hits, hit_bytes = hits + 1, hit_bytes + size
        elif key in chosen:
            seen.add(key)
    return Stats(len(trace.requests), hits, sum(size for _, size in trace.requests), hit_bytes)


def session_oracle(trace: Trace, capacity: int, *, foresight: int = 0) -> Stats:
    """A ceiling for session-aware online policies: Belady's MIN (with bypass, cold start) on what such
    a policy could know at best. Every request of a session already started (its first request seen)
    is known exactly, abandonment included; any other object's next use is expected from popularity:
    a new session reaching segment k of it starts every sum(p) / p_x requests (one session starts per
    mean watch = sum(p) requests) and then needs k steps of its session. `foresight` > 0 reveals each
    session that many requests before it starts: knowledge no edge has, to show where MIN's lead is."""
    if not trace.session:
        raise InvalidRequest("The session oracle needs a session trace (zipf_trace).",
                             hint="an IRM trace has no sessions to look ahead in")
    by_session: list[list[int]] = [[] for _ in trace.session_start]
    for i, sid in enumerate(trace.session):
        by_session[sid].append(i)
    revealed: dict[int, list[int]] = {}
    for sid, first in enumerate(trace.session_start):
        revealed.setdefault(max(0, first - foresight), []).append(sid)
    state = _Lookahead(capacity, _popularity_gaps(trace, _session_pace(by_session)))
    hits = hit_bytes = total = 0
    for t, (key, size) in enumerate(trace.requests):
        total += size
        for sid in revealed.get(t, ()):
            state.reveal([(j, trace.requests[j][0]) for j in by_session[sid]])
        if state.request(t, key, size):
            hits, hit_bytes = hits + 1, hit_bytes + size
    return Stats(len(trace.requests), hits, total, hit_bytes)


def _session_pace(by_session: list[list[int]]) -> float:
    """Mean number of requests between two consecutive requests of one session (~ `concurrent`)."""
    gaps = [b - a for reqs in by_session for a, b in itertools.pairwise(reqs)]
    return sum(gaps) / len(gaps) if gaps else 1.0


def _popularity_gaps(trace: Trace, pace: float) -> dict[str, float]:
    """Expected requests until an object's next use when no started session will request it."""
    total = sum(trace.popularity.values())
    return {key: total / p + segment_of(key) * pace for key, p in trace.popularity.items() if p > 0}


class _Lookahead:
    """Cache state of `session_oracle`: for each object a min-heap of the request indices known so far;
    cached objects ranked by next use, exact (max-heap by index) or expected (max-heap by gap)."""

    def __init__(self, capacity: int, gaps: dict[str, float]) -> None:
        self.capacity, self.used, self.gaps = capacity, 0, gaps
        self.known: dict[str, list[int]] = {}
        self.sizes: dict[str, int] = {}
        self.rank: dict[str, tuple[int, float]] = {}        # key -> (0, next index) or (1, gap)
        self.heaps: tuple[list[tuple[float, str]], list[tuple[float, str]]] = ([], [])

    def reveal(self, upcoming: list[tuple[int, str]]) -> None:
        """A session started: its requests become known; cached objects it will request move up."""
        for j, key in upcoming:
            heapq.heappush(self.known.setdefault(key, []), j)
            if key in self.sizes:
                self._rank(key)

    def request(self, t: int, key: str, size: int) -> bool:
        """Serve request `t`; True on a hit. A miss is cached if objects needed later make room."""
        known = self.known.get(key, [])
        while known and known[0] <= t:
            heapq.heappop(known)
        if key in self.sizes:
            self._rank(key)
            return True
        if size <= self.capacity and self._make_room(t, self.used + size - self.capacity, self._next(t, key)):
            self.sizes[key] = size
            self.used += size
            self._rank(key)
        return False

    def _next(self, t: int, key: str) -> float:
        known = self.known.get(key)
        return known[0] if known else t + self.gaps.get(key, math.inf)

    def _rank(self, key: str) -> None:
        known = self.known.get(key)
        kind, value = (0, float(known[0])) if known else (1, self.gaps.get(key, math.inf))
        self.rank[key] = (kind, value)
        heapq.heappush(self.heaps[kind], (-value, key))

    def _furthest(self, t: int) -> tuple[float, int] | None:
        """The furthest next use among cached objects, and which heap holds it."""
        best: tuple[float, int] | None = None
        for kind, heap in enumerate(self.heaps):
            while heap and self.rank.get(heap[0][1]) != (kind, -heap[0][0]):
                heapq.heappop(heap)
            if heap:
                when = -heap[0][0] + (t if kind else 0)
                best = (when, kind) if best is None or when > best[0] else best
        return best

    def _make_room(self, t: int, short: int, nxt: float) -> bool:
        """Evict objects needed later than `nxt` until `short` bytes are free; evict none if they can't."""
        taken: list[tuple[int, tuple[float, str]]] = []
        freed = 0
        while freed < short and (top := self._furthest(t)) is not None and top[0] > nxt:
            entry = heapq.heappop(self.heaps[top[1]])
            taken.append((top[1], entry))
            del self.rank[entry[1]]
            freed += self.sizes[entry[1]]
        if freed < short:
            for kind, entry in taken:
                heapq.heappush(self.heaps[kind], entry)
                self.rank[entry[1]] = (kind, -entry[0])
            return False
        for _, (_, key) in taken:
            self.used -= self.sizes.pop(key)
        return True


def _session(rng: random.Random, cum: list[float], segments: int, mean_watch: int) -> list[str]:
    """Keys of one session, last first (so `pop()` yields them in playback order)."""
    title = rng.choices(range(len(cum)), cum_weights=cum)[0]
    rung = rng.choices(range(len(RUNG_BITRATES)), weights=RUNG_WEIGHTS)[0]
    watched = min(segments, 1 + int(rng.expovariate(1 / mean_watch)))
    return [segment_key(title, rung, s) for s in reversed(range(watched))]


def replay(policy: CachePolicy, requests: list[Request]) -> Stats:
    """Hits of an online policy on a trace (admit on every miss)."""
    hits = hit_bytes = total = 0
    for key, size in requests:
        total += size
        if _serve(policy, key, size):
            hits, hit_bytes = hits + 1, hit_bytes + size
    return Stats(len(requests), hits, total, hit_bytes)


def replay_sessions(policy: CachePolicy, trace: Trace) -> Stats:
    """`replay` for a policy that is told each request's viewer (`observe`) and may prefetch: what it
    names is fetched from the origin (its bytes counted) and handed back (`prefetched`)."""
    if not isinstance(policy, SessionPolicy) or not trace.session:
        return replay(policy, trace.requests)
    hits = hit_bytes = total = fetched = 0
    for (key, size), session in zip(trace.requests, trace.session, strict=True):
        total += size
        policy.observe(key, str(session), size)
        if _serve(policy, key, size):
            hits, hit_bytes = hits + 1, hit_bytes + size
        for wanted in policy.prefetch():
            if wanted in trace.sizes and wanted not in policy:
                fetched += trace.sizes[wanted]
                policy.prefetched(wanted, trace.sizes[wanted])
    return Stats(len(trace.requests), hits, total, hit_bytes, fetched)


def _serve(policy: CachePolicy, key: str, size: int) -> bool:
    """One request: a hit is touched, a miss admitted; True on a hit."""
    if key in policy:
        policy.touch(key)
        return True
    policy.admit(key, size)
    return False


def belady(requests: list[Request], capacity: int) -> Stats:
    """Belady's MIN with bypass: on a miss evict what is next needed furthest in the future, and do not
    cache an object needed later than the objects it would displace (nothing is evicted for it then).
    Exact for equal sizes; with sizes that differ the optimum is NP-hard and this is the usual
    heuristic ceiling (a policy could in principle beat it): `interval_bound` is a proven one."""
    never = len(requests)
    next_use = _next_uses(requests, never)
    cached: dict[str, tuple[int, int]] = {}        # key -> (next use, size)
    heap: list[tuple[int, str]] = []               # (-next use, key), stale entries skipped
    used = hits = hit_bytes = total = 0
    for i, (key, size) in enumerate(requests):
        total += size
        nxt = next_use[i]
        if key in cached:
            hits, hit_bytes = hits + 1, hit_bytes + size
            cached[key] = (nxt, size)
            heapq.heappush(heap, (-nxt, key))
            continue
        if nxt == never or size > capacity:
            continue
        freed = _make_room(cached, heap, used + size - capacity, nxt)
        if freed is not None:
            used += size - freed
            cached[key] = (nxt, size)
            heapq.heappush(heap, (-nxt, key))
    return Stats(len(requests), hits, total, hit_bytes)


def _next_uses(requests: list[Request], never: int) -> list[int]:
    out, seen = [never] * len(requests), dict[str, int]()
    for i in range(len(requests) - 1, -1, -1):
        key = requests[i][0]
        out[i] = seen.get(key, never)
        seen[key] = i
    return out


def _make_room(cached: dict[str, tuple[int, int]], heap: list[tuple[int, str]], short: int,
               nxt: int) -> int | None:
    """Free `short` bytes by evicting the furthest-needed objects, all needed later than `nxt`; the
    bytes freed, or None (and nothing evicted) when such objects do not add up to `short`."""
    taken: list[tuple[int, str]] = []
    freed = 0
    while freed < short and heap:
        far, key = -heap[0][0], heap[0][1]
        if key not in cached or cached[key][0] != far:
            heapq.heappop(heap)
            continue
        if far <= nxt:
            break
        taken.append(heapq.heappop(heap))
        freed += cached[key][1]
    if freed < short:
        for item in taken:
            heapq.heappush(heap, item)
        return None
    for _, key in taken:
        del cached[key]
    return freed


def interval_bound(requests: list[Request], capacity: int) -> Stats:
    """A proven upper bound for variable sizes (PFOO-U, Berger et al., SIGMETRICS '18): a hit needs its
    object cached from the previous request on, costing size x interval length of the cache's
    capacity x requests byte-steps; relax "at every step" to "on average" and the best hits are a
    fractional knapsack. Hit ratio and byte hit ratio are bounded separately (shortest intervals per
    byte first for bytes, smallest size x length first for hits)."""
    never = len(requests)
    next_use = _next_uses(requests, never)
    intervals = [(next_use[i] - i, size) for i, (_, size) in enumerate(requests) if next_use[i] != never]
    budget = capacity * len(requests)
    hits = _knapsack(sorted(intervals, key=lambda iv: iv[0] * iv[1]), budget, by_bytes=False)
    hit_bytes = _knapsack(sorted(intervals), budget, by_bytes=True)
    return Stats(len(requests), int(hits), sum(size for _, size in requests), int(hit_bytes))


def _knapsack(intervals: list[tuple[int, int]], budget: int, *, by_bytes: bool) -> float:
    """Hits (or hit bytes) of the intervals taken in order until the byte-steps run out, the last in part."""
    gained = 0.0
    for length, size in intervals:
        cost, value = length * size, (size if by_bytes else 1)
        if cost >= budget:
            return gained + value * budget / cost
        budget -= cost
        gained += value
    return gained
