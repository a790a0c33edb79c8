"""Benchmark: the named queries over the Parquet lake, in DuckDB and in Spark local[2], same lake, same
run. No target for Spark (issue 18): this is the price of a cluster engine on one machine.

The lake is generated once into a temp dir straight in the archiver's layout and schema (DuckDB
writes the files with `lake.publish`, one per topic, hour and log partition, as after compaction):
playback sessions of six events, CDN requests, steering decisions, encodes and titles over 24 hours.
Pushing millions of events through the event log first would measure the log, not the lake; the
archiver's own throughput is printed separately on a smaller count. Each engine attaches the lake
once, then runs every query `--runs` times; per query p50/p95 and over all runs p95, and the ratio.

    .venv/bin/python bench/lake_query.py [--events 5000000] [--runs 3] [--archive-events 100000]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.analytics import lake, lake_views, results, spark
from server.analytics.lake_archiver import Archiver
from server.analytics.queries import QUERIES
from server.events.log import EventLog

T0 = 1_765_000_800.0  # an hour boundary
HOURS = 24
PARTITIONS = 8
TITLES = 600
SHARES = {"playback": 0.70, "cdn": 0.25, "steering": 0.04, "encode": 0.01}
QUERY_NAMES = [q for q in QUERIES if q not in lake_views.DUCKDB_ONLY_QUERIES]

# Per topic: a SELECT over `range(n) t(i)` giving the topic's columns (without the log columns);
# `hh` is a signed hash (macro below), so it indexes lists and picks values deterministically.
GENERATORS = {
    "playback": """
SELECT 's' || (i // 6) AS session_id, 'v' || (hh(i // 6) % 600) AS video_id,
       CASE i % 6 WHEN 0 THEN 'started' WHEN 5 THEN 'stopped' WHEN 4 THEN
            (CASE WHEN hh(i) % 5 = 0 THEN 'stall' WHEN hh(i) % 7 = 0 THEN 'quality_switch' ELSE 'segment' END)
            ELSE 'segment' END AS type,
       {t0} + (i // 6) * {span} / ({n} // 6 + 1) + (i % 6) * 2.0 AS happened_at,
       'edge-' || (hh(i // 6) % 12) AS edge, ['eu', 'us', 'ap'][hh(i // 6) % 12 % 3 + 1] AS region,
       '720p' AS rendition, CAST(800000 + hh(i) % 4 * 700000 AS BIGINT) AS bitrate,
       CASE WHEN i % 6 = 0 THEN 50 + hh(i) % 900 + random() END AS startup_ms,
       CAST(10000 + hh(i) % 900000 AS BIGINT) AS bytes, 10 + random() * 400 AS ms,
       100 + random() * 3000 AS stall_ms, '720p' AS from_rendition, '360p' AS to_rendition,
       CASE WHEN i % 6 = 5 THEN 1 + random() * 100 END AS watched_s,
       random() * 120 AS position_s, 120.0 AS duration_s
FROM range({n}) t(i)""",
    "cdn": """
SELECT 'edge-' || (hh(i) % 12) AS edge, ['eu', 'us', 'ap'][hh(i) % 12 % 3 + 1] AS region,
       ['hit', 'hit', 'miss', 'fill'][hh(i * 3) % 4 + 1] AS type, 'v' || (hh(i) % 600) AS video_id,
       'videos/x.m4s' AS object, CAST(hh(i * 5) % 2000000 AS BIGINT) AS bytes, NULL AS reason,
       NULL AS healthy, NULL AS load, {t0} + i * {span} / {n} AS happened_at
FROM range({n}) t(i)""",
    "steering": """
SELECT 'v' || (hh(i) % 600) AS video_id, ['eu', 'us', 'ap'][hh(i) % 3 + 1] AS client_region,
       'edge-' || (hh(i * 7) % 12) AS chosen, '[]' AS candidates, {t0} + i * {span} / {n} AS happened_at
FROM range({n}) t(i)""",
    "encode": """
SELECT 'v' || (i % 600) AS video_id, 'j' || i AS job_id, 'job' AS task, 1 AS attempt,
       CASE WHEN i % 4 = 0 THEN 'job_done' ELSE 'task_progress' END AS type,
       {t0} + i * {span} / {n} AS happened_at, 1 + random() * 50 AS wall_s, 1 + random() * 100 AS cpu_s,
       NULL AS out_seconds, 1 + i % 9 AS chunks, i % 3 AS retries, 10 + random() * 110 AS duration,
       random() * 9 AS realtime_factor, NULL AS error
FROM range({n}) t(i)""",
    "videos": """
SELECT 'v' || i AS video_id, 'published' AS type, {t0} + i AS happened_at,
       '{{"title":"T' || i || '","duration":60,"size_bytes":1000,"renditions":[]}}' AS title, NULL AS error,
       60.0 AS duration, 1280 AS width, 720 AS height, 'h264' AS codec, '[]' AS renditions
FROM range({n}) t(i)""",
}


def generate(path: Path, events: int) -> dict[str, int]:
    """Write the lake; returns events per topic."""
    counts = {"videos": TITLES}
    counts.update({t: int((events - TITLES) * share) for t, share in SHARES.items()})
    counts["playback"] += events - sum(counts.values())
    with duckdb.connect() as conn:
        conn.execute("CREATE MACRO hh(x) AS CAST(hash(x) % 1000000007 AS BIGINT)")  # a signed hash
        for topic, n in counts.items():
            _generate_topic(conn, path, topic, n)
    return counts


def _generate_topic(conn: duckdb.DuckDBPyConnection, path: Path, topic: str, n: int) -> None:
    typed = lake.TOPIC_COLUMNS[topic]
    body = GENERATORS[topic].format(t0=T0, span=HOURS * 3600.0, n=n)
    casts = ", ".join(f"CAST({c.name} AS {c.type}) AS {c.name}" for c in typed)
    key = typed[0].name
    conn.execute(f"""CREATE OR REPLACE TABLE g AS
        SELECT CAST(hash({key}) % {PARTITIONS} AS INTEGER) AS log_partition,
               CAST(row_number() OVER (PARTITION BY hash({key}) % {PARTITIONS} ORDER BY happened_at) - 1
                    AS BIGINT) AS log_offset,
               {key} AS log_key, happened_at AS log_time,
               json_object('{key}', {key}, 'at', happened_at) AS value, {casts},
               CAST(FLOOR(happened_at / 3600) AS BIGINT) AS hour_n
        FROM ({body})""")
    names = ", ".join(c.name for c in lake.columns(topic))
    for hour_n, p, first, last in conn.execute("SELECT hour_n, log_partition, MIN(log_offset), "
                                               "MAX(log_offset) FROM g GROUP BY ALL").fetchall():
        target = lake.hour_dir(path, topic, lake.hour_name(hour_n)) / lake.part_name(p, first, last)
        lake.publish(conn, f"SELECT {names} FROM g WHERE hour_n = {hour_n} AND log_partition = {p} "
                           "ORDER BY log_offset", target)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def time_queries(run_one: object, runs: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {q: [] for q in QUERY_NAMES}
    for _ in range(runs):
        for name in QUERY_NAMES:
            began = time.perf_counter()
            run_one(name)  # type: ignore[operator]
            timings[name].append(time.perf_counter() - began)
    return timings


def archiver_rate(events: int, tmp: Path) -> float:
    """Events/s of the real archiver from the embedded log into an empty lake (batch 50,000)."""
    with EventLog(tmp / "events.sqlite") as log:
        log.publish_many("playback", [(f"s{i // 6}", {"type": "segment", "session_id": f"s{i // 6}",
                                                      "video_id": "v1", "at": T0 + i, "bytes": 1000,
                                                      "ms": 40.0}) for i in range(events)])
        archiver = Archiver(log, tmp / "archived", batch_size=50_000)
        began = time.perf_counter()
        archiver.run_once(compact=False)
        rate = events / (time.perf_counter() - began)
        archiver.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--archive-events", type=int, default=100_000)
    args = parser.parse_args()
    print(f"# lake_query: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"duckdb {duckdb.__version__}, load average before {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="lake-bench-") as tmp:
        path = Path(tmp) / "lake"
        began = time.perf_counter()
        counts = generate(path, args.events)
        size = sum(f.stat().st_size for f in path.rglob("*.parquet"))
        print(f"generated {sum(counts.values()):,} events {counts} in {time.perf_counter() - began:.1f} s, "
              f"{len(list(path.rglob('*.parquet')))} files, {size / 1e6:.0f} MB")
        with duckdb.connect() as conn:
            lake_views.attach_duckdb(conn, path)
            rows = {q: len(results.run(conn, q)) for q in QUERY_NAMES}
            on_duckdb = time_queries(lambda q: results.run(conn, q), args.runs)
        print(f"load average before Spark {os.getloadavg()}")
        began = time.perf_counter()
        with spark.session() as session:
            started = time.perf_counter() - began
            spark.attach(session, path)
            on_spark = time_queries(lambda q: spark.run(session, q), args.runs)
        print(f"Spark session start {started:.1f} s; load average after {os.getloadavg()}")
        report(on_duckdb, on_spark, rows)
        print(f"archiver: {archiver_rate(args.archive_events, Path(tmp)):,.0f} events/s "
              f"({args.archive_events:,} playback events, embedded log -> empty lake)")


def report(on_duckdb: dict[str, list[float]], on_spark: dict[str, list[float]],
           rows: dict[str, int]) -> None:
    print("\n| query | rows | DuckDB p50 ms | DuckDB p95 ms | Spark p50 ms | Spark p95 ms "
          "| Spark/DuckDB p95 |")
    print("|---|---|---|---|---|---|---|")
    for q in QUERY_NAMES:
        print(_line(q, str(rows[q]), on_duckdb[q], on_spark[q]))
    print(_line("all queries, all runs", "", [t for ts in on_duckdb.values() for t in ts],
                [t for ts in on_spark.values() for t in ts]))


def _line(name: str, rows: str, d: list[float], s: list[float]) -> str:
    ms = [f"{pct(v, q) * 1e3:.0f}" for v in (d, s) for q in (.5, .95)]
    return f"| {name} | {rows} | {' | '.join(ms)} | {pct(s, .95) / pct(d, .95):.1f}x |"

if __name__ == "__main__":
    main()
