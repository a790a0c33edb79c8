"""Play a bandwidth trace on real edges: a small driver that sets an edge's link cap at every step of
a `BandwidthTrace` (looped as the lab loops it), and a check of how close the edge's paced delivery
comes to the cap it was given.

The driver runs on its own thread from `start()` (the trace's time 0) until `stop()`, which puts the
edges' previous caps back. The ABR lab's validation uses it to let hls.js play the same trace the
simulation plays (`server/labs/abr_validate.py`, docs/LABS.md).
"""

from __future__ import annotations

import http.client
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from server.background import Worker
from server.labs.abr_traces import BandwidthTrace

MIN_STEP_S = 0.05       # never re-set the cap faster than this (a trace sampled every millisecond)


class Throttled(Protocol):
    """What the driver needs of an edge (EdgeNode has it)."""

    bandwidth_mbps: float | None

    def set_bandwidth(self, mbps: float | None) -> None: ...


class TraceThrottle:
    """Sets every edge of `edges` to the trace's throughput at each change point, from `start()`."""

    def __init__(self, trace: BandwidthTrace, edges: Sequence[Throttled],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.trace, self.edges, self.clock = trace, list(edges), clock
        self.started_at: float | None = None       # the clock at trace time 0
        self.started_wall: float | None = None     # the same instant as Unix time (for browser stamps)
        self.applied: list[tuple[float, float]] = []   # (trace time, Mbit/s) of every cap set
        self._worker = Worker("abr-trace-throttle", self._run, join_timeout_s=5)
        self._previous = [e.bandwidth_mbps for e in self.edges]

    def start(self) -> TraceThrottle:
        """Apply the trace's first rate now and follow the trace from here on."""
        if self._worker.running:
            return self
        self.started_at, self.started_wall = self.clock(), time.time()
        self._apply(0.0)
        self._worker.start()
        return self

    def stop(self) -> None:
        """Stop following the trace and give the edges back the caps they had before (idempotent)."""
        self._worker.stop()
        for edge, mbps in zip(self.edges, self._previous, strict=True):
            edge.set_bandwidth(mbps)

    def __enter__(self) -> TraceThrottle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def elapsed(self) -> float:
        """Trace seconds since `start()`."""
        return 0.0 if self.started_at is None else self.clock() - self.started_at

    def _run(self) -> None:
        while True:
            _, left = self.trace.interval(self.elapsed())
            if self._worker.stopping.wait(max(left, MIN_STEP_S)):
                return
            self._apply(self.elapsed())

    def _apply(self, at: float) -> None:
        bps, _ = self.trace.interval(at + 1e-6)    # just past a change point: the new rate
        mbps = max(bps / 1e6, 1e-3)                # an outage of 0 is a very thin link, not "no cap"
        for edge in self.edges:
            edge.set_bandwidth(mbps)
        self.applied.append((round(at, 3), round(mbps, 4)))


@dataclass(frozen=True)
class Delivery:
    """One paced download: the cap, what arrived and how fast (the edge's RTT taken off)."""

    cap_mbps: float
    nbytes: int
    ttfb_s: float
    seconds: float
    rtt_s: float = 0.0

    @property
    def delivered_mbps(self) -> float:
        """Body throughput: the bytes over the time from request to last byte less one RTT."""
        return self.nbytes * 8 / max(self.seconds - self.rtt_s, 1e-9) / 1e6

    @property
    def ratio(self) -> float:
        return self.delivered_mbps / self.cap_mbps

    def to_dict(self) -> dict[str, float]:
        return {"cap_mbps": self.cap_mbps, "bytes": self.nbytes, "ttfb_ms": round(self.ttfb_s * 1000, 1),
                "seconds": round(self.seconds, 3), "delivered_mbps": round(self.delivered_mbps, 4),
                "ratio": round(self.ratio, 4)}


def timed_get(url: str, timeout: float = 120.0) -> tuple[int, float, float]:
    """GET `url` on a fresh connection: (body bytes, seconds to the first body byte, seconds in all)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    began = time.monotonic()
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        first = response.read(1)
        ttfb = time.monotonic() - began
        rest = response.read()
        return len(first) + len(rest), ttfb, time.monotonic() - began
    finally:
        conn.close()


def cap_accuracy(edge: Throttled, url: str, rates_mbps: Sequence[float],
                 rtt_ms: float = 0.0) -> list[Delivery]:
    """Download `url` from `edge` once per cap in `rates_mbps`: how close delivery comes to each cap
    (the previous cap is put back afterwards). The object should be cached on the edge already;
    `rtt_ms` is the edge's simulated round trip, taken off each download's time."""
    previous, out = edge.bandwidth_mbps, []
    try:
        for mbps in rates_mbps:
            edge.set_bandwidth(mbps)
            nbytes, ttfb, seconds = timed_get(url)
            out.append(Delivery(mbps, nbytes, ttfb, seconds, rtt_ms / 1000))
    finally:
        edge.set_bandwidth(previous)
    return out
