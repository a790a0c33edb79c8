"""Benchmark: durable publish throughput of the event log with 1 and 8 producers, and end-to-end
latency (publish -> a consumer's poll), against a plain SQLite insert loop in one transaction (the
ceiling: no per-event durability). Target: >= 50,000 events/s with 8 producers and p99 < 20 ms.

Modes: `sync` = each producer calls `publish` and waits until the event is durable; `async` = each
producer keeps up to --window single-event publishes in flight (`publish_async`, Kafka's `send`),
each still acknowledged only once durable; `batches` = each call publishes 100 events durably
(`publish_many`; latency is per call); `processes` = 8 producer processes, each its own EventLog.
End-to-end latency: from the producer's `time.time()` in the payload to a consumer thread's poll.

    .venv/bin/python bench/event_log.py [--events 200000] [--window 256]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sqlite3
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.events import store
from server.events.admin import Retention
from server.events.log import EventLog

BATCH = 100
PAYLOAD = {"type": "segment", "video_id": "v-0001", "edge": "edge-eu-1", "region": "eu-west",
           "rendition": "720p", "bitrate": 3_000_000, "bytes": 812_345, "ms": 41.5}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def ceiling(path: Path, n: int) -> float:
    """Plain inserts into the same table in one transaction: the most SQLite can take."""
    store.create_schema(path)
    db = store.connect(path)
    body = json.dumps(PAYLOAD)
    began = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    for i in range(n):
        db.execute(store.INSERT_EVENT, ("playback", i % 8, i // 8, f"s-{i % 64}", time.time(), body))
    db.execute("COMMIT")
    rate = n / (time.perf_counter() - began)
    db.close()
    return rate


def producer_sync(log: EventLog, n: int, worker: int, latencies: list[float]) -> None:
    for i in range(n):
        t = time.perf_counter()
        log.publish("playback", f"s-{worker}-{i % 8}", {**PAYLOAD, "sent": time.time()})
        latencies.append(time.perf_counter() - t)


def producer_async(log: EventLog, n: int, worker: int, latencies: list[float], window: int) -> None:
    inflight: deque[tuple[float, Future[list[tuple[int, int]]]]] = deque()
    for i in range(n):
        if len(inflight) >= window:
            t, fut = inflight.popleft()
            fut.result()
            latencies.append(time.perf_counter() - t)
        item = (f"s-{worker}-{i % 8}", {**PAYLOAD, "sent": time.time()})
        inflight.append((time.perf_counter(), log.publish_async("playback", [item])))
    for t, fut in inflight:
        fut.result()
        latencies.append(time.perf_counter() - t)


def producer_batches(log: EventLog, n: int, worker: int, latencies: list[float], batch: int) -> None:
    for start in range(0, n, batch):
        items = [(f"s-{worker}-{i % 8}", {**PAYLOAD, "sent": time.time()})
                 for i in range(start, min(n, start + batch))]
        t = time.perf_counter()
        log.publish_many("playback", items)
        latencies.append(time.perf_counter() - t)


def consume(log: EventLog, total: int, e2e: list[float]) -> None:
    seen = 0
    while seen < total:
        batch = log.poll("bench", ["playback"], max_events=5000, timeout=5)
        if not batch:
            return
        now = time.time()
        e2e += [now - e.value["sent"] for e in batch]
        seen += len(batch)


def run_threads(path: Path, producers: int, n: int, mode: str, window: int) -> dict[str, float]:
    log = EventLog(path, retention=Retention())
    per, latencies, e2e = n // producers, [], []
    consumer = threading.Thread(target=consume, args=(log, per * producers, e2e))
    consumer.start()
    extra = {"async": (window,), "batch": (BATCH,)}.get(mode, ())
    args = [(log, per, w, latencies, *extra) for w in range(producers)]
    target = {"async": producer_async, "batch": producer_batches}.get(mode, producer_sync)
    threads = [threading.Thread(target=target, args=a) for a in args]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    consumer.join()
    log.close()
    return {"rate": per * producers / elapsed, "p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99),
            "e2e50": pct(e2e, 0.5), "e2e99": pct(e2e, 0.99)}


def _proc(path: str, n: int, worker: int, batch: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    log, latencies = EventLog(Path(path), retention=Retention()), []
    if batch > 1:
        producer_batches(log, n, worker, latencies, batch)
    else:
        producer_sync(log, n, worker, latencies)
    log.close()
    out.put(latencies)


def run_procs(path: Path, producers: int, n: int, batch: int = 1) -> dict[str, float]:
    """Producers in their own processes (the CLI and the server both publish); end to end is
    measured by a consumer in this process, which hears other processes' commits."""
    log = EventLog(path, retention=Retention())
    e2e: list[float] = []
    consumer = threading.Thread(target=consume, args=(log, (n // producers) * producers, e2e))
    consumer.start()
    # spawned, not forked: a fork while this process's consumer holds the writers' file lock would
    # hand every child that lock for good (and a real producer is a program of its own anyway)
    spawn = mp.get_context("spawn")
    out: mp.Queue = spawn.Queue()  # type: ignore[type-arg]
    procs = [spawn.Process(target=_proc, args=(str(path), n // producers, w, batch, out))
             for w in range(producers)]
    began = time.perf_counter()
    for p in procs:
        p.start()
    latencies = [x for _ in procs for x in out.get(timeout=300)]  # a producer that died does not hang the run
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - began
    consumer.join()
    log.close()
    return {"rate": (n // producers) * producers / elapsed, "p50": pct(latencies, 0.5),
            "p99": pct(latencies, 0.99), "e2e50": pct(e2e, 0.5), "e2e99": pct(e2e, 0.99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per async/ceiling run")
    parser.add_argument("--sync-events", type=int, default=20_000, help="events per sync run")
    parser.add_argument("--window", type=int, default=64, help="in-flight publishes per async producer")
    args = parser.parse_args()
    print(f"# event log benchmark — {platform.platform()}, {mp.cpu_count()} cores, Python "
          f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    print("| scenario | events | events/s | publish p50 ms | publish p99 ms | end-to-end p50 ms "
          "| e2e p99 ms |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        rate = ceiling(Path(tmp) / "ceiling.sqlite", args.events)
        print(f"| ceiling: plain SQLite inserts, 1 transaction | {args.events} | {rate:,.0f} "
              "| - | - | - | - |")
        runs = [("1 producer, sync", 1, args.sync_events, "sync"),
                ("8 producers (threads), sync", 8, args.sync_events, "sync"),
                ("1 producer, async", 1, args.events, "async"),
                ("8 producers (threads), async", 8, args.events, "async"),
                (f"1 producer, batches of {BATCH} (publish_many)", 1, args.events, "batch"),
                (f"8 producers (threads), batches of {BATCH}", 8, args.events, "batch")]
        for i, (label, producers, n, mode) in enumerate(runs):
            r = run_threads(Path(tmp) / f"run{i}.sqlite", producers, n, mode, args.window)
            _row(label, n, r)
        _row("8 producers (processes), sync", args.sync_events,
             run_procs(Path(tmp) / "procs.sqlite", 8, args.sync_events))
        _row(f"8 producers (processes), batches of {BATCH}", args.events,
             run_procs(Path(tmp) / "procs-batch.sqlite", 8, args.events, BATCH))
    print(f"load average after the run: {os.getloadavg()[0]:.1f} (shared machine)")


def _row(label: str, n: int, r: dict[str, float]) -> None:
    ms = {k: f"{v * 1000:.2f}" if v == v else "-" for k, v in r.items()}
    print(f"| {label} | {n} | {r['rate']:,.0f} | {ms['p50']} | {ms['p99']} | {ms['e2e50']} | {ms['e2e99']} |")


if __name__ == "__main__":
    main()
