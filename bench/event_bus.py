"""Benchmark: publish throughput and per-call p99 with 8 producer threads, batches of 100 events
(`publish_many`, acknowledged = durable), on JetStream with replicas 3 (a real 3-node NATS cluster on
loopback, started here) against the embedded SQLite log, in the same run. Target on both: >= 50k
events/s, p99 < 20 ms. Prints one row per backend and round, with the load average.

The ceiling row, `core-nats`, sends the same batches as plain core-NATS messages through the same
client library and threading (one connection, its asyncio loop in a thread), flushed per batch but
neither stored nor acknowledged: what the client side alone allows on this machine.

    .venv/bin/python bench/event_bus.py [--events 40000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import nats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.cluster.nats import NatsCluster
from server.events.admin import Retention
from server.events.log import EventLog
from server.events.model import encode_value
from server.events.nats_log import NatsEventLog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from event_log import PAYLOAD, pct  # the embedded log's benchmark: the same event and percentile

PRODUCERS = 8
BATCH = 100


class CoreNats:
    """`publish_many` as plain core-NATS messages (the ceiling row; see the module docstring)."""

    def __init__(self, servers: list[str]) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._nc = self._call(nats.connect(servers=servers))

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)

    def publish_many(self, topic: str, items: list[tuple[str, dict[str, Any]]]) -> None:
        self._call(self._send(topic, [(k, encode_value(topic, v).encode()) for k, v in items]))

    async def _send(self, topic: str, items: list[tuple[str, bytes]]) -> None:
        for key, payload in items:
            await self._nc.publish(f"core.{topic}", payload, headers={"Miniflix-Key": key})
        await self._nc.flush()

    def close(self) -> None:
        self._call(self._nc.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def run_round(log: Any, topic: str, events: int) -> tuple[float, float]:
    """(events/s, p99 ms per publish_many call) for 8 threads sharing one log."""
    per_thread = events // PRODUCERS // BATCH
    latencies: list[list[float]] = [[] for _ in range(PRODUCERS)]

    def produce(worker: int) -> None:
        for b in range(per_thread):
            items = [(f"s-{worker}-{(b * BATCH + i) % 64}", PAYLOAD) for i in range(BATCH)]
            began = time.perf_counter()
            log.publish_many(topic, items)
            latencies[worker].append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(PRODUCERS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    return per_thread * BATCH * PRODUCERS / wall, pct([x for per in latencies for x in per], 0.99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{'backend':<16} {'round':>5} {'events/s':>10} {'p99 ms':>8}  load avg (1/5/15 min)")
    with tempfile.TemporaryDirectory() as tmp:
        cluster = NatsCluster(Path(tmp) / "nats")
        try:
            cluster.start()
            backends: list[tuple[str, Any]] = [
                ("sqlite", EventLog(Path(tmp) / "events.sqlite", retention=Retention())),
                ("jetstream-R3", NatsEventLog(cluster.urls, retention=Retention())),
                ("core-nats", CoreNats(cluster.urls))]
            for r in range(1, args.rounds + 1):
                for name, log in backends:
                    rate, p99 = run_round(log, f"bench{r}", args.events)
                    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
                    print(f"{name:<16} {r:>5} {rate:>10,.0f} {p99:>8.1f}  {load}", flush=True)
            for _, log in backends:
                log.close()
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
