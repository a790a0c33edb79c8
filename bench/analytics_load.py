"""Benchmark: load synthetic playback events into the analytics DuckDB store, then time every named
query. Target: >= 200,000 events/s loaded and every named query p95 < 50 ms on 5,000,000 events.

Events are generated in chunks (sessions of started, segments, an occasional stall and quality
switch, stopped) as log `Event`s holding raw JSON, and loaded with the production loader
(`server.analytics.loader.load`: offsets and raw JSON as list parameters unnested by the INSERT +
DuckDB `from_json`, one transaction per batch). Baselines in the same run: DuckDB inserting the same
rows already typed (one list parameter per column, no JSON: the ceiling) and `executemany` of
Python tuples (the naive way), both on a sample. A last line loads a
smaller set through the real path: EventLog.publish_many -> AnalyticsService.catch_up.

    .venv/bin/python bench/analytics_load.py [--events 5000000] [--batch 50000] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.analytics import loader
from server.analytics.queries import QUERIES
from server.analytics.service import AnalyticsService
from server.events.admin import Retention
from server.events.log import EventLog
from server.events.model import Event
from server.paths import DataDir

T0 = 1_700_000_000.0
EDGES = [f"edge-{r}-{i}" for r in ("eu", "us", "ap") for i in range(4)]
RUNGS = (("1080p", 5_000_000), ("720p", 2_800_000), ("480p", 1_400_000), ("360p", 800_000))


def session_events(rng: random.Random, s: int, titles: int) -> list[dict]:
    video, edge = f"v{int(rng.paretovariate(1.2)) % titles:05d}", rng.choice(EDGES)
    rung, bitrate = rng.choice(RUNGS)
    base = {"session_id": f"s{s:08d}", "video_id": video, "edge": edge, "region": edge.split("-")[1],
            "rendition": rung, "bitrate": bitrate}
    out = [{**base, "type": "started", "at": T0 + s, "startup_ms": rng.uniform(150, 900)}]
    for i in range(rng.randint(4, 14)):
        out.append({**base, "type": "segment", "at": T0 + s + 4 * i, "bytes": bitrate // 2,
                    "ms": rng.uniform(20, 400)})
        if rng.random() < 0.03:
            out.append({**base, "type": "stall", "at": T0 + s + 4 * i, "duration_ms": rng.uniform(100, 3000)})
        if rng.random() < 0.05:
            out.append({**base, "type": "quality_switch", "at": T0 + s + 4 * i, "from": rung, "to": "480p"})
    watched = 4.0 * (len(out) - 1)
    out.append({**base, "type": "stopped", "at": T0 + s + watched, "watched_s": watched,
                "position_s": watched, "duration_s": 120.0})
    return out


def chunks(total: int, size: int, titles: int, seed: int = 1) -> Iterator[list[Event]]:
    rng, s, offset, chunk = random.Random(seed), 0, 0, []
    while offset < total:
        for value in session_events(rng, s, titles):
            chunk.append(Event("playback", s % 8, offset, value["session_id"], T0, json.dumps(value)))
            offset += 1
            if len(chunk) == size:
                yield chunk
                chunk = []
        s += 1
    if chunk:
        yield chunk


def load_all(path: Path, total: int, batch: int, titles: int) -> tuple[float, int]:
    conn = duckdb.connect(str(path))
    loader.create(conn)
    consumed: dict[tuple[str, int], int] = {}
    loaded, busy = 0, 0.0
    for chunk in chunks(total, batch, titles):
        began = time.perf_counter()
        loaded += loader.load(conn, chunk, consumed)
        busy += time.perf_counter() - began
    conn.close()
    return loaded / busy, loaded


INSERT_TYPED = ("INSERT INTO playback_events (session_id, video_id, type, happened_at, edge, region, "
                "rendition, bitrate) ")
TYPED = ["session_id", "video_id", "type", "at", "edge", "region", "rendition", "bitrate"]


def baselines(tmp: Path, sample: int, batch: int, titles: int) -> dict[str, float]:
    """Events/s of three other ways to load the same rows (already decoded, no JSON in DuckDB)."""
    rows = [json.loads(e.value_json) for e in next(chunks(sample, sample, titles, seed=2))]
    conn = duckdb.connect(str(tmp / "baseline.duckdb"))
    loader.create(conn)
    rates = {"lists": _timed(len(rows), lambda: _typed_lists(conn, rows, batch))}
    conn.execute("CREATE TEMP TABLE typed AS SELECT * FROM playback_events")
    rates["ceiling"] = _timed(len(rows), lambda: conn.execute(INSERT_TYPED + "SELECT session_id, video_id, "
                              "type, happened_at, edge, region, rendition, bitrate FROM typed"))
    small = [tuple(r.get(c) for c in TYPED) for r in rows[:20_000]]
    rates["naive"] = _timed(len(small), lambda: conn.executemany(
        INSERT_TYPED + "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", small))
    conn.close()
    return rates


def _typed_lists(conn: duckdb.DuckDBPyConnection, rows: list[dict], batch: int) -> None:
    """The production hand-off (list parameters unnested by the INSERT) with every column pre-typed."""
    for i in range(0, len(rows), batch):
        part = rows[i:i + batch]
        conn.execute(INSERT_TYPED + "SELECT " + ", ".join(f"unnest(${c})" for c in TYPED),
                     {c: [r.get(c) for r in part] for c in TYPED})


def _timed(count: int, work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return count / (time.perf_counter() - began)


def time_queries(path: Path, runs: int) -> list[tuple[str, float, float, int]]:
    conn = duckdb.connect(str(path), read_only=True)
    from server.analytics.results import run

    out = []
    for name in QUERIES:
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            rows = len(run(conn, name))
            times.append(time.perf_counter() - began)
        times.sort()
        out.append((name, times[len(times) // 2], times[min(len(times) - 1, int(0.95 * len(times)))], rows))
    conn.close()
    return out


def through_the_log(tmp: Path, total: int, titles: int) -> float:
    data = DataDir.resolve(tmp / "data")
    log = EventLog(data.events_db, retention=Retention())
    for chunk in chunks(total, 5000, titles, seed=3):
        log.publish_many("playback", [(e.key, json.loads(e.value_json)) for e in chunk])
    service = AnalyticsService(data, log)
    began = time.perf_counter()
    loaded = service.catch_up()
    rate = loaded / (time.perf_counter() - began)
    service.stop()
    log.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--batch", type=int, default=50_000, help="events per load transaction")
    parser.add_argument("--titles", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=20, help="runs per query")
    parser.add_argument("--log-events", type=int, default=200_000, help="events for the through-the-log line")
    args = parser.parse_args()
    print(f"# analytics benchmark — {platform.platform()}, {os.cpu_count()} cores, "
          f"DuckDB {duckdb.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "analytics.duckdb"
        rate, loaded = load_all(db, args.events, args.batch, args.titles)
        other = baselines(Path(tmp), min(args.events, 500_000), args.batch, args.titles)
        print("\n| load | events/s |\n|---|---|")
        print(f"| production loader (raw JSON as list parameters -> from_json + hourly rollups), "
              f"{loaded:,} events, batch {args.batch:,} | {rate:,.0f} |")
        print(f"| ceiling: DuckDB copying the same rows already typed inside DuckDB (no hand-off, no JSON) | "
              f"{other['ceiling']:,.0f} |")
        print(f"| hand-off only: pre-typed columns as list parameters, batch {args.batch:,} (no JSON) | "
              f"{other['lists']:,.0f} |")
        print(f"| naive: executemany of Python tuples (20k sample) | {other['naive']:,.0f} |")
        print(f"| end to end: EventLog -> AnalyticsService.catch_up, {args.log_events:,} events | "
              f"{through_the_log(Path(tmp), args.log_events, args.titles):,.0f} |")
        print(f"\n| query ({loaded:,} playback events) | p50 ms | p95 ms | rows |\n|---|---|---|---|")
        for name, p50, p95, rows in time_queries(db, args.runs):
            print(f"| {name} | {p50 * 1000:.1f} | {p95 * 1000:.1f} | {rows} |")
    print(f"\nload average after the run: {os.getloadavg()[0]:.1f} (shared machine)")


if __name__ == "__main__":
    main()
