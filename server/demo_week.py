"""A seeded, realistic week of viewing for the demo library, so every analytics chart says something
on first start, and a way to take it out again.

Nothing here is drawn at random per chart: the week is played through the same models the labs use.
Viewers arrive on a daily curve (an evening peak, busier weekends) from the topology's regions, pick
titles by a Zipf popularity, are steered to the title's home edge in their region (sometimes a sibling
edge, rarely another region), and play the title's REAL segment sizes (`abr_manifest.load_ladder`) over
a bandwidth trace of their kind of link (`abr_traces`: broadband, Wi-Fi steps, mobile) with the ABR
lab's throughput rule (`abr.simulate`). Each segment request then goes through its edge's real cache
policy (`cdn.policies`, the edge's capacity), in time order, so hits, misses, fills and evictions warm
up the way a cache does. The events are the ones the player, the edges and steering publish
(docs/EVENTS.md) with `at` in the past week and one more field, `demo`: the batch id.

Removing a demo week is itself an event (`videos` topic, type `demo_removed`, the batch id): the
analytics loader deletes that batch's rows and rebuilds the hourly rollups it touched, and drops any
of its events that arrive later. It works the same over any event log backend, and a rebuild of the
analytics file from the log ends without them too.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from server.catalog import Catalog
from server.cdn.policies import CachePolicy, make_policy
from server.cdn.ring import HashRing
from server.cdn.topology import EdgeSpec, Topology
from server.errors import InvalidRequest
from server.events.api import CDN, PLAYBACK, STEERING, VIDEOS, Publisher
from server.labs.abr import Session, simulate
from server.labs.abr_manifest import Ladder, load_ladder
from server.labs.abr_traces import BandwidthTrace, mobile, steady, steps
from server.media.cmaf import SEGMENT_PATTERN
from server.storage.blobstore import BlobStore

DEMO_FIELD = "demo"
REMOVED = "demo_removed"
MAX_DAYS, MAX_VIEWS_PER_DAY, MAX_SESSIONS = 31, 2000, 20_000   # 20,000 sessions: about a minute
# Share of views per local hour of the day: low at night, a lunchtime bump, the evening peak at 21 h.
HOURLY = (2, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 5, 6, 5, 5, 5, 6, 7, 9, 11, 13, 14, 10, 5)
WEEKEND = 1.3
ZIPF_ALPHA = 0.9
# Viewer links: (share, kind). Broadband is steady at a log-normal rate around 25 Mbit/s.
LINKS = ((0.45, "broadband"), (0.35, "wifi"), (0.20, "mobile"))
SIBLING_EDGE, OTHER_REGION = 0.08, 0.02       # steered off the home edge: load, then failover
FINISHED_SHARE = 0.35                          # viewers who watch to the end
PUBLISH_BATCH = 2000
# Each kind of link's bandwidth trace for one viewer, drawn from the week's random stream.
LINK_TRACES: dict[str, Callable[[random.Random], BandwidthTrace]] = {
    "broadband": lambda rng: steady(min(200.0, 25.0 * math.exp(rng.gauss(0, 0.7)))),
    "wifi": lambda rng: steps(rng.randrange(1 << 30), (2.0, 5.0, 12.0, 30.0)),
    "mobile": lambda rng: mobile(rng.randrange(1 << 30)),
}


@dataclass(frozen=True)
class DemoWeek:
    """What to generate: `days` ending at `end` (default now), about `views_per_day` sessions a day."""

    days: int = 7
    views_per_day: int = 150
    seed: int = 1
    end: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.days <= MAX_DAYS:
            raise InvalidRequest(f"A demo week covers 1 to {MAX_DAYS} days (got {self.days}).")
        if not 1 <= self.views_per_day <= MAX_VIEWS_PER_DAY:
            raise InvalidRequest(f"Views per day must be 1 to {MAX_VIEWS_PER_DAY} "
                                 f"(got {self.views_per_day}).")
        if self.days * self.views_per_day > MAX_SESSIONS:
            raise InvalidRequest(f"A demo week has at most {MAX_SESSIONS:,} sessions "
                                 f"(days x views per day; got {self.days * self.views_per_day:,}).")


@dataclass(frozen=True)
class Viewer:
    """One planned session: when, where from, which title, over which link, through which edge."""

    start: float
    region: str
    video_id: str
    link: str
    edge: EdgeSpec
    candidates: tuple[EdgeSpec, ...]
    session_id: str


@dataclass(frozen=True)
class Request:
    """One segment request a viewer made of an edge."""

    at: float
    edge: EdgeSpec
    video_id: str
    key: str
    size: int


@dataclass
class Seeded:
    """What a seeding published: the batch id (to remove it), sessions and events per topic."""

    batch: str
    sessions: int
    events: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, "sessions": self.sessions, "events": self.events}


def published_ladders(catalog: Catalog, store: BlobStore) -> list[Ladder]:
    """Every published video title's real ladder (titles without video or playlists are left out)."""
    ladders = []
    for title in catalog.list():
        if title.status == "published" and title.renditions:
            try:
                ladders.append(load_ladder(catalog, store, title.video_id))
            except InvalidRequest:
                continue
    return ladders


class BatchPublisher(Publisher, Protocol):
    """An event log that stores many events of a topic in one commit (both log backends do)."""

    def publish_many(self, topic: str,
                     items: Iterable[tuple[str, dict[str, Any]]]) -> list[tuple[int, int]]: ...


def seed(publisher: BatchPublisher, ladders: Sequence[Ladder], topology: Topology, week: DemoWeek) -> Seeded:
    """Generate the week and publish it; the returned batch id removes it again (`remove`)."""
    if not ladders:
        raise InvalidRequest("A demo week needs at least one published title.",
                             hint="publish a title first, e.g. the sample clip")
    batch = f"demo-{uuid.uuid4().hex[:12]}"
    events = generate(ladders, topology, week, batch)
    counts: dict[str, int] = {}
    for topic, items in events.items():
        for start in range(0, len(items), PUBLISH_BATCH):
            publisher.publish_many(topic, items[start:start + PUBLISH_BATCH])
        counts[topic] = len(items)
    sessions = sum(1 for _, e in events.get(PLAYBACK, []) if e["type"] == "started")
    return Seeded(batch, sessions, counts)


def remove(publisher: Publisher, batch: str) -> None:
    """Publish the removal of a demo batch; analytics drops its rows (see the module docstring)."""
    if not batch.startswith("demo-"):
        raise InvalidRequest(f"{batch!r} is not a demo batch id (they start with 'demo-').")
    publisher.publish(VIDEOS, DEMO_FIELD, {"type": REMOVED, "batch": batch, "at": time.time()})


def generate(ladders: Sequence[Ladder], topology: Topology, week: DemoWeek,
             batch: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """The week's events per topic, each `(key, value)` in time order, every value tagged `batch`."""
    rng = random.Random(week.seed)
    end = week.end if week.end is not None else time.time()
    by_id = {ladder.video_id: ladder for ladder in ladders}
    viewers = plan_viewers(rng, list(by_id), topology, week, end)
    playback: list[tuple[str, dict[str, Any]]] = []
    steering: list[tuple[str, dict[str, Any]]] = []
    requests: list[Request] = []
    for viewer in viewers:
        ladder = by_id[viewer.video_id]
        trace = LINK_TRACES[viewer.link](rng).shifted(rng.uniform(0, 600))
        session = simulate(ladder, trace, "throughput")
        watched = _segments_watched(rng, len(ladder.durations))
        playback += playback_events(viewer, ladder, session, watched, rng)
        steering.append((viewer.video_id, steering_event(viewer, topology)))
        requests += segment_requests(viewer, ladder, session, watched)
    cdn = cache_events(sorted(requests, key=lambda r: r.at))
    tagged = {PLAYBACK: playback, STEERING: steering, CDN: cdn}
    for items in tagged.values():
        items.sort(key=lambda item: item[1]["at"])
        for _, value in items:
            value[DEMO_FIELD] = batch
    return tagged


def plan_viewers(rng: random.Random, titles: list[str], topology: Topology, week: DemoWeek,
                 end: float) -> list[Viewer]:
    """Session starts on the daily curve, regions weighted, titles by Zipf rank, edges by steering's
    content affinity (the title's home edge in the region)."""
    regions = sorted({e.region for e in topology.edges})
    region_weight = [rng.uniform(0.6, 1.6) for _ in regions]
    popularity = titles[:]
    rng.shuffle(popularity)
    zipf = [1 / (rank + 1) ** ZIPF_ALPHA for rank in range(len(popularity))]
    begin = end - week.days * 86400
    starts = _arrival_times(rng, begin, end, week.views_per_day * week.days)
    viewers = []
    for n, start in enumerate(starts):
        region = rng.choices(regions, region_weight)[0]
        video_id = rng.choices(popularity, zipf)[0]
        edge, candidates = _steer(rng, topology, region, video_id)
        link = rng.choices([k for _, k in LINKS], [s for s, _ in LINKS])[0]
        viewers.append(Viewer(start, region, video_id, link, edge, candidates, f"{week.seed}-{n:06d}"))
    return viewers


def _arrival_times(rng: random.Random, begin: float, end: float, count: int) -> list[float]:
    """`count` times in [begin, end) drawn from the hourly curve (weekends busier), sorted."""
    hours = range(int(begin // 3600), math.ceil(end / 3600))
    weights = [HOURLY[h % 24] * (WEEKEND if time.gmtime(h * 3600).tm_wday >= 5 else 1.0) for h in hours]
    cumulative = list(itertools.accumulate(weights))
    out: list[float] = []
    while len(out) < count:
        h = hours[bisect.bisect_left(cumulative, rng.uniform(0, cumulative[-1]))]
        at = h * 3600 + rng.uniform(0, 3600)
        if begin <= at < end - 300:       # a session started in the last minutes may still be running
            out.append(at)
    return sorted(out)


def _steer(rng: random.Random, topology: Topology, region: str,
           video_id: str) -> tuple[EdgeSpec, tuple[EdgeSpec, ...]]:
    local = [e for e in topology.edges if e.region == region]
    by_name = {e.name: e for e in local}
    home = by_name[HashRing(sorted(by_name)).nodes_for(video_id)[0]]
    others = [e for e in topology.edges if e.region != region]
    ranked = [home, *[e for e in local if e is not home], *others]
    roll = rng.random()
    if roll < OTHER_REGION and others:
        return rng.choice(others), tuple(ranked)
    if roll < OTHER_REGION + SIBLING_EDGE and len(local) > 1:
        return ranked[1], tuple(ranked)
    return home, tuple(ranked)


def _segments_watched(rng: random.Random, segments: int) -> int:
    if rng.random() < FINISHED_SHARE:
        return segments
    return max(1, round(segments * rng.uniform(0.05, 0.9)))


def playback_events(viewer: Viewer, ladder: Ladder, session: Session, watched: int,
                    rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """started, segment, quality_switch, stall and stopped events as a player reports them."""
    names, bitrates = [r.name for r in ladder.rungs], ladder.bitrates
    common = {"session_id": viewer.session_id, "video_id": viewer.video_id, "edge": viewer.edge.name,
              "region": viewer.region}
    steering_ms = viewer.edge.rtt_ms * (3 if viewer.edge.region != viewer.region else 1)
    t0 = viewer.start
    first = session.rungs[0]
    out = [_event(common, "started", t0 + session.startup_s, names[first], bitrates[first],
                  startup_ms=round(session.startup_s * 1000 + steering_ms, 1))]
    for k in range(watched):
        step, rung = session.steps[k], session.rungs[k]
        size = ladder.rungs[rung].sizes[k]
        took_ms = size * 8 / step.kbps if step.kbps > 0 else 1.0     # kbps = size / download time
        out.append(_event(common, "segment", t0 + step.t, names[rung], bitrates[rung], bytes=size,
                          ms=round(took_ms, 1)))
        if k and rung != session.rungs[k - 1]:
            out.append(_event(common, "quality_switch", t0 + step.t, names[rung], bitrates[rung],
                              **{"from": names[session.rungs[k - 1]], "to": names[rung]}))
    out += _stalls(common, session, watched, t0, names, bitrates)
    played = sum(ladder.durations[:watched])
    stalled = session.rebuffer_s * watched / len(session.rungs)
    last = session.rungs[watched - 1]
    out.append(_event(common, "stopped", t0 + session.startup_s + played + stalled, names[last],
                      bitrates[last], watched_s=round(played, 3), position_s=round(played, 3),
                      duration_s=round(sum(ladder.durations), 3)))
    return [(viewer.session_id, e) for e in out]


def _stalls(common: dict[str, Any], session: Session, watched: int, t0: float, names: list[str],
            bitrates: tuple[float, ...]) -> list[dict[str, Any]]:
    """The session's stalls within what was watched, placed where its buffer ran lowest."""
    stalls = round(session.stalls * watched / max(len(session.rungs), 1))
    if not stalls or session.rebuffer_s <= 0:
        return []
    each_ms = session.rebuffer_s * 1000 / max(session.stalls, 1)
    lowest = sorted(range(1, watched), key=lambda k: session.steps[k].buffer_s)[:stalls]
    return [_event(common, "stall", t0 + session.steps[k].t, names[session.rungs[k]],
                   bitrates[session.rungs[k]], duration_ms=round(each_ms, 1)) for k in sorted(lowest)]


def _event(common: dict[str, Any], kind: str, at: float, rendition: str, bitrate: float,
           **extra: Any) -> dict[str, Any]:
    return {"type": kind, **common, "at": round(at, 3), "rendition": rendition, "bitrate": int(bitrate),
            **extra}


def steering_event(viewer: Viewer, topology: Topology) -> dict[str, Any]:
    lat, lon = topology.regions.get(viewer.region, (viewer.edge.lat, viewer.edge.lon))
    candidates = [{"edge": e.name, "rank": n + 1, "score": round(e.rtt_ms * (1 + n * 0.2), 1),
                   "reasons": ["home edge of the title" if n == 0 else "same region"
                               if e.region == viewer.region else "another region"]}
                  for n, e in enumerate(viewer.candidates)]
    return {"type": "decision", "video_id": viewer.video_id, "client_region": viewer.region,
            "client_latlon": [lat, lon], "chosen": viewer.edge.name, "candidates": candidates,
            "at": round(viewer.start, 3)}


def segment_requests(viewer: Viewer, ladder: Ladder, session: Session, watched: int) -> list[Request]:
    out = []
    for k in range(watched):
        rung = ladder.rungs[session.rungs[k]]
        key = f"videos/{viewer.video_id}/cmaf/{rung.name}/{SEGMENT_PATTERN.format(k + 1)}"
        at = viewer.start + session.steps[k].t
        out.append(Request(at, viewer.edge, viewer.video_id, key, rung.sizes[k]))
    return out


def cache_events(requests: Sequence[Request]) -> list[tuple[str, dict[str, Any]]]:
    """Each request through its edge's cache policy at the edge's capacity: hit, or miss + fill
    (and the evictions the fill caused), as the edge would publish them."""
    caches: dict[str, CachePolicy] = {}
    sizes: dict[str, int] = {}
    out: list[tuple[str, dict[str, Any]]] = []
    for r in requests:
        cache = caches.get(r.edge.name)
        if cache is None:
            cache = caches[r.edge.name] = make_policy(r.edge.policy, r.edge.capacity_bytes)
        common = {"edge": r.edge.name, "region": r.edge.region, "video_id": r.video_id, "at": round(r.at, 3)}
        if r.key in cache:
            cache.touch(r.key)
            out.append((r.edge.name, {"type": "hit", **common, "object": r.key, "bytes": r.size}))
            continue
        out.append((r.edge.name, {"type": "miss", **common, "object": r.key, "bytes": r.size,
                                  "reason": "content"}))
        sizes[r.key] = r.size
        evicted = cache.admit(r.key, r.size)
        if r.key in cache:
            out.append((r.edge.name, {"type": "fill", **common, "object": r.key, "bytes": r.size}))
        for key in evicted:
            out.append((r.edge.name, {"type": "evict", **common, "video_id": key.split("/")[1],
                                      "object": key, "bytes": sizes.get(key, 0)}))
    return out

