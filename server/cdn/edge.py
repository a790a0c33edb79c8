"""One edge node (a simulated OCA): its own loopback listener, cache, link simulation and counters."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from server.cdn.cache import EdgeCache, Lookup
from server.cdn.clock import Clock, SystemClock
from server.cdn.edge_base import EdgeAddress, throughput_bps
from server.cdn.edge_http import EdgeServer
from server.cdn.events import EventSink
from server.cdn.origin import OriginClient
from server.cdn.policies import make_policy
from server.cdn.tokens import Signer
from server.cdn.topology import EdgeSpec
from server.errors import MiniflixError
from server.events.api import Publisher

POLL_S = 0.5      # idle listeners wake this often (100 edges polling faster cost CPU); stop() wakes them
log = logging.getLogger(__name__)
Spillover = Callable[[str], bool]   # video id -> are we serving it only because its home edges are down?


class EdgeNode(EdgeAddress):
    """An edge cache with its own HTTP listener on 127.0.0.1; `stop()` really closes the port."""

    def __init__(self, spec: EdgeSpec, origin: OriginClient, cache_dir: Path, signer: Signer,
                 publisher: Publisher | None = None, clock: Clock | None = None,
                 spillover: Spillover | None = None) -> None:
        self.spec, self.signer = spec, signer
        self.clock: Clock = clock or SystemClock()
        self.spillover = spillover
        self.events = EventSink(publisher)
        self.cache = EdgeCache(Path(cache_dir), make_policy(spec.policy, spec.capacity_bytes), spec.ttl_s,
                               origin, self.clock, self._cache_event)
        self.bandwidth_mbps = spec.bandwidth_mbps
        self._server: EdgeServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._lock = threading.Lock()
        self._counts = {"hits": 0, "misses": 0, "hit_bytes": 0, "miss_bytes": 0, "active": 0}
        self._served: deque[tuple[float, int]] = deque()
        self._prefetch_pool: ThreadPoolExecutor | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> int:
        """Listen on 127.0.0.1 (the previous port if it is free, so old links work again)."""
        if self._server is not None:
            return self._port
        try:
            server = EdgeServer(("127.0.0.1", self._port), self)
        except OSError:
            server = EdgeServer(("127.0.0.1", 0), self)
        self._server, self._port = server, server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_S},
                                        name=f"edge-{self.spec.name}", daemon=True)
        self._thread.start()
        self._health_event()
        return self._port

    def stop(self) -> None:
        """Close the listener and cut open connections: new and kept-alive clients both fail."""
        server, self._server = self._server, None
        if server is None:
            return
        _shutdown_now(server)
        server.server_close()
        server.close_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._health_event()

    def close(self) -> None:
        """Stop and release the event and prefetch threads (idempotent)."""
        self.stop()
        self.events.close()
        if self._prefetch_pool is not None:
            self._prefetch_pool.shutdown(wait=True, cancel_futures=True)

    @property
    def running(self) -> bool:
        return self._server is not None

    # -- request path -------------------------------------------------------------------------
    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Counts one request as in progress (the edge's load) for as long as it is being served."""
        with self._lock:
            self._counts["active"] += 1
        try:
            yield
        finally:
            with self._lock:
                self._counts["active"] -= 1

    def lookup(self, key: str, video_id: str, session: str = "") -> Lookup:
        """The object for one request, counted as a hit or a miss; with the viewer's `session` tag, a
        session-aware policy learns where the viewer is and may prefetch what they ask for next."""
        reason = self._miss_reason(key, video_id)   # before the fetch, which forgets the eviction
        lookup = self.cache.get(key)
        lookup.miss_reason = reason
        with self._lock:
            self._counts["misses" if lookup.status == "MISS" else "hits"] += 1
        for wanted in self.cache.observe(key, session, lookup.size):
            self._prefetcher().submit(self._prefetch, wanted)
        return lookup

    def _prefetcher(self) -> ThreadPoolExecutor:
        """One background thread per edge pulls prefetches (made on first use)."""
        with self._lock:
            if self._prefetch_pool is None:
                self._prefetch_pool = ThreadPoolExecutor(1, thread_name_prefix=f"prefetch-{self.name}")
            return self._prefetch_pool

    def _prefetch(self, key: str) -> None:
        """Pull one object a session-aware policy asked for; the segment after a title's last, or an
        origin outage, is simply not prefetched."""
        try:
            self.cache.prefetched(key, self.cache.fill(key))
        except (MiniflixError, OSError) as exc:
            log.debug("edge %s: no prefetch of %s: %s", self.name, key, exc)

    def record(self, lookup: Lookup, video_id: str, sent: int, aborted: bool = False,
               session: str = "", arrived: float | None = None) -> None:
        """Count one served response and publish its `hit` or `miss` event (`aborted`: the client
        hung up before the end, so `sent` is 0 or what got out; `session`: the viewer's tag).

        The event is stamped with the time the request `arrived`, not the time its last byte went
        out: a trace replays requests in arrival order, and a client's next request can arrive
        before the previous response is recorded (the recorded trace's order was then a race)."""
        hit = lookup.status != "MISS"
        now = self.clock.now()
        with self._lock:
            self._counts["hit_bytes" if hit else "miss_bytes"] += sent
            self._served.append((now, sent))
        event = self._event("hit" if hit else "miss", video_id, lookup.key, sent)
        if arrived is not None:
            event["at"] = arrived
        if not hit:
            event["reason"] = lookup.miss_reason or "content"
        elif lookup.status == "STALE":
            event["stale"] = True
        if aborted:
            event["aborted"] = True
        if session:
            event["session"] = session
        self.events.emit(self.name, event)

    def fill(self, key: str) -> int:
        """Proactive push: pull `key` from the origin now; bytes pulled (0 when already fresh)."""
        return self.cache.fill(key)

    def purge_title(self, video_id: str) -> int:
        """Forget every cached object of a title (deleted or restored): how many were dropped."""
        return self.cache.purge_title(video_id)

    def has_title(self, video_id: str) -> int:
        """How many objects of the title this edge holds (content presence for steering)."""
        return self.cache.title_objects(video_id)

    # -- reporting ----------------------------------------------------------------------------
    def load(self) -> float:
        """Share of `max_clients` busy right now (a plain read: steering calls this per edge)."""
        return min(1.0, self._counts["active"] / max(1, self.spec.max_clients))

    def health(self) -> dict[str, Any]:
        stats = self.cache.stats()
        with self._lock:
            c = dict(self._counts)
            throughput = self._throughput_locked()
        lookups = c["hits"] + c["misses"]
        return {"name": self.name, "region": self.spec.region, "healthy": self.running,
                "load": min(1.0, c["active"] / max(1, self.spec.max_clients)),
                "cached_bytes": stats["cached_bytes"], "capacity_bytes": self.spec.capacity_bytes,
                "hit_ratio": c["hits"] / lookups if lookups else 0.0, "throughput_bps": throughput,
                "objects": stats["objects"], "titles": stats["titles"], "hits": c["hits"],
                "misses": c["misses"], "hit_bytes": c["hit_bytes"], "miss_bytes": c["miss_bytes"],
                "port": self._port, "url": self.base_url if self.running else None,
                "rtt_ms": self.spec.rtt_ms, "bandwidth_mbps": self.bandwidth_mbps, "policy": self.spec.policy,
                "events_dropped": self.events.dropped}

    def _throughput_locked(self) -> float:
        """Bits per second served over the last window."""
        return throughput_bps(self._served, self.clock.now())

    def _miss_reason(self, key: str, video_id: str) -> str:
        """capacity: we had it and evicted it; health: we are not the title's home edge and its home
        edges in our region are down (a spill-over); content: anything else (first request here)."""
        if self.cache.was_evicted(key):
            return "capacity"
        if self.spillover is not None and self.spillover(video_id):
            return "health"
        return "content"

    def _event(self, kind: str, video_id: str, key: str, nbytes: int) -> dict[str, Any]:
        return {"type": kind, "edge": self.name, "region": self.spec.region, "video_id": video_id,
                "object": key, "bytes": nbytes, "at": self.clock.now()}

    def _cache_event(self, kind: str, key: str, nbytes: int) -> None:
        video_id = key.split("/")[1] if key.count("/") >= 2 else ""
        self.events.emit(self.name, self._event(kind, video_id, key, nbytes))

    def _health_event(self) -> None:
        self.report_health(self.running)

    def report_health(self, healthy: bool) -> None:
        """Publish a `health` event (the edge on start/stop; the CDN's monitor when probes fail)."""
        event = self._event("health", "", "", 0)
        event.update(healthy=healthy, load=self.load())
        self.events.emit(self.name, event)


def _shutdown_now(server: EdgeServer) -> None:
    """`server.shutdown()` without waiting out the poll interval: connect to wake the accept loop."""
    waiter = threading.Thread(target=server.shutdown, daemon=True)
    waiter.start()
    address = ("127.0.0.1", server.server_address[1])
    while waiter.is_alive():
        with contextlib.suppress(OSError), socket.create_connection(address, timeout=0.2):
            pass
        waiter.join(0.02)
