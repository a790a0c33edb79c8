"""A generated, seeded event history for the lake tests: several titles, edges and regions over a few
hours, with fractional measures (sums in another order round differently: the equality tests must
hold anyway) and missing keys (NULL groups sort the same in both engines)."""

from __future__ import annotations

import random
from typing import Any

from server.events.log import EventLog
from tests.analytics.conftest import T0, title

EDGES = (("edge-a", "eu"), ("edge-b", "eu"), ("edge-c", "us"), ("edge-d", "ap"), (None, None))
VIDEOS = tuple(f"v{i}" for i in range(6))
HOURS = 5


def publish_generated(log: EventLog, sessions: int = 300, seed: int = 7) -> int:
    """Publish titles, playback sessions, CDN requests, encodes and steering; returns events published."""
    rng = random.Random(seed)
    published = 0
    for topic, items in (("videos", _videos()), ("playback", _playback(rng, sessions)),
                         ("cdn", _cdn(rng, sessions * 3)), ("encode", _encode(rng)),
                         ("steering", _steering(rng, sessions))):
        log.publish_many(topic, items)
        published += len(items)
    return published


def _at(rng: random.Random) -> float:
    return T0 + rng.uniform(0, HOURS * 3600)


def _videos() -> list[tuple[str, dict[str, Any]]]:
    items = []
    for i, v in enumerate(VIDEOS):
        rungs = [("720p", 3_000_000), ("360p", 800_000)]
        t = title(v, f"Title {i}", 30.0 + 7.5 * i, rungs, 1_000_000 * (i + 1))
        items.append((v, {"type": "published", "video_id": v, "at": T0 + i, "title": t}))
    items.append(("v5", {"type": "deleted", "video_id": "v5", "at": T0 + 99}))
    return items


def _playback(rng: random.Random, sessions: int) -> list[tuple[str, dict[str, Any]]]:
    items = []
    for s in range(sessions):
        edge, region = rng.choice(EDGES)
        base = {"session_id": f"s{s}", "video_id": rng.choice(VIDEOS), "edge": edge, "region": region,
                "rendition": "720p", "bitrate": rng.choice((800_000, 3_000_000))}
        at = _at(rng)
        events = [{"type": "started", "startup_ms": rng.uniform(50, 900)}]
        for _ in range(rng.randint(0, 4)):
            events.append({"type": "segment", "bytes": rng.randint(1000, 90_000), "ms": rng.uniform(10, 400)})
        if rng.random() < 0.3:
            events.append({"type": "stall", "duration_ms": rng.uniform(100, 3000)})
        if rng.random() < 0.3:
            events.append({"type": "quality_switch", "from": "720p", "to": "360p"})
        if rng.random() < 0.8:
            duration = rng.uniform(30, 120)
            events.append({"type": "stopped", "watched_s": rng.uniform(1, duration),
                           "position_s": rng.uniform(0, duration * 1.1), "duration_s": duration})
        items += [(f"s{s}", {**base, "at": at + i * 1.5, **e}) for i, e in enumerate(events)]
    return items


def _cdn(rng: random.Random, requests: int) -> list[tuple[str, dict[str, Any]]]:
    items = []
    for _ in range(requests):
        edge, region = rng.choice(EDGES[:-1])
        kind = rng.choice(("hit", "hit", "miss", "fill"))
        items.append((edge, {"type": kind, "edge": edge, "region": region, "video_id": rng.choice(VIDEOS),
                             "object": "videos/x.m4s", "bytes": rng.randint(0, 2_000_000), "at": _at(rng)}))
    return items


def _encode(rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    items = []
    for v in VIDEOS:
        for job in range(rng.randint(1, 3)):
            common = {"video_id": v, "job_id": f"{v}-j{job}", "attempt": 1, "at": _at(rng)}
            items.append((v, {**common, "type": "task_progress", "task": "chunk-0000", "fraction": 0.5}))
            items.append((v, {**common, "type": "job_done", "task": "job", "wall_s": rng.uniform(1, 50),
                              "cpu_s": rng.uniform(1, 100), "chunks": rng.randint(1, 9),
                              "retries": rng.randint(0, 2), "duration": rng.uniform(10, 120),
                              "realtime_factor": rng.uniform(0.5, 9)}))
    return items


def _steering(rng: random.Random, decisions: int) -> list[tuple[str, dict[str, Any]]]:
    items = []
    for _ in range(decisions):
        edge, region = rng.choice(EDGES[:-1])
        v = rng.choice(VIDEOS)
        items.append((v, {"type": "decision", "video_id": v, "client_region": rng.choice((region, None)),
                          "chosen": edge, "at": _at(rng),
                          "candidates": [{"edge": edge, "rank": 1, "score": rng.random(), "reasons": []}]}))
    return items


# Every named query with its defaults, and with parameters that filter or bucket differently.
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("title_engagement", {"video_id": "v1"}), ("title_engagement", {"since": T0 + 7200, "limit": 3}),
    ("views_over_time", {"bucket_s": 7200}), ("views_over_time", {"video_id": "v2", "since": T0 + 3600}),
    ("qoe_by_title", {"video_id": "v3"}), ("qoe_by_edge", {"since": T0 + 3600}),
    ("qoe_by_region", {"limit": 2}), ("cache_hit_ratio", {"bucket_s": 600}),
    ("cache_hit_ratio", {"since": T0 + 9000, "limit": 7}), ("encode_cost", {"video_id": "v0"}),
    ("steering_choices", {"video_id": "v4"}), ("steering_choices", {"since": T0 + 3600, "limit": 5}),
]
