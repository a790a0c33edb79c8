"""An edge served by nginx: one `nginx` process per EdgeSpec, with the EdgeNode interface the CDN,
its health monitor, steering, the proactive fill and the HTTP admin use.

No Python runs per request in the app: nginx checks the signed link, serves from its cache and logs
a tab-separated line. Cache hits go to a buffered `hits.log` that a separate lowest-priority process
turns into `hit` events in big batches (hit_tail.py; with a publisher no other process can open, the
tail thread does it); misses, fills and refusals go to `access.log`, which the edge's tail thread
turns into `miss`/`fill`/`evict` events at once. Python runs per miss (the loopback origin listener)
and per admin action (start, stop, throttle, purge); hit events lag their requests by nginx's flush
second, and under a sustained load by up to hit_tail.MAX_LAG_S more.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any

from server.cdn import nginx_conf
from server.cdn.access_log import LogTailer, Served, hit_event, parse_line
from server.cdn.clock import Clock, SystemClock
from server.cdn.edge import Spillover
from server.cdn.edge_base import THROUGHPUT_WINDOW_S, EdgeAddress, throughput_bps
from server.cdn.events import EventSink
from server.cdn.hit_tail import HitLog, HitTailProcess
from server.cdn.log_rotation import rotate
from server.cdn.nginx_cache import NginxCache
from server.cdn.nginx_origin import OriginListener
from server.cdn.nginx_process import (
    NginxFailed,
    ask_health,
    free_port,
    nginx_binary,
    reap_stale,
    terminate,
    wait_gone,
    write_private,
)
from server.cdn.origin import OriginClient, OriginError
from server.cdn.tokens import Signer
from server.cdn.topology import EdgeSpec
from server.errors import NotFound
from server.events.api import CDN as CDN_TOPIC
from server.events.api import Publisher
from server.events.log import EventLog

log = logging.getLogger(__name__)
START_TIMEOUT_S = 10.0
LOAD_POLL_S = 0.5
ERROR_LOG_TAIL = 600
MAX_TAIL_STARTS = 5


class NginxEdge(EdgeAddress):
    """One edge as an nginx process on 127.0.0.1; `stop()` really ends it (the port closes)."""

    def __init__(self, spec: EdgeSpec, origin: OriginClient, cache_dir: Path, signer: Signer,
                 publisher: Publisher | None = None, clock: Clock | None = None,
                 spillover: Spillover | None = None) -> None:
        self.spec, self.origin, self.signer, self.spillover = spec, origin, signer, spillover
        self.clock: Clock = clock or SystemClock()
        self.layout = nginx_conf.EdgeLayout(Path(cache_dir) / "nginx")
        self.layout.make()
        self.cache = NginxCache(self.layout.cache, spec.capacity_bytes)
        self.events = EventSink(publisher)
        self.bandwidth_mbps = spec.bandwidth_mbps
        self.tailer = LogTailer(self.layout.access_log, self._logged, self._poll)
        self.hits = HitLog(self.layout.hits_log, spec.name, spec.region)
        self._hits_base = self.hits.state()     # health() counts this run's hits
        self.hit_tail = (HitTailProcess(self.hits, publisher.path)
                         if isinstance(publisher, EventLog) and HitTailProcess.can_run() else None)
        self._load, self._load_at = 0.0, 0.0
        self._origin: OriginListener | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._port, self._generation = 0, 0
        self._lock = threading.Lock()
        self._counts = {"hits": 0, "misses": 0, "hit_bytes": 0, "miss_bytes": 0}
        self._served: deque[tuple[float, int]] = deque()
        self._dropped = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> int:
        """Start nginx on the previous port if it is free (old links work again), else a new one."""
        if self.running:
            return self._port
        binary = nginx_binary()
        if self._proc is None and reap_stale(self.layout.pid, self.layout.conf):
            log.warning("edge %s: ended an nginx a previous run left behind", self.name)
        if self._origin is None:
            self._origin = OriginListener(self.origin)
        self._port = free_port(self._port)
        self._write_conf()
        self.tailer.start()
        if self.hit_tail is not None:
            self.hit_tail.start()
        self._spawn(binary)
        self.report_health(True)
        return self._port

    def stop(self) -> None:
        """End nginx at once (open connections are cut; its buffered hits are written as it exits),
        then publish what it logged until then (the hits: the tail process, in its turn)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        terminate(proc)
        self.tailer.drain()
        if self.hit_tail is None:
            self._drain_hits()
        self.report_health(False)

    def close(self) -> None:
        """Stop, then release the origin listener, the tails and the event thread (idempotent); every
        logged request is published before this returns."""
        self.stop()
        if self.hit_tail is not None:
            self.hit_tail.stop()
        self.tailer.close()
        self._drain_hits()
        if self._origin is not None:
            self._origin.close()
            self._origin = None
        self.events.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def set_bandwidth(self, mbps: float | None) -> None:
        """Rewrite the edge's `limit_rate` and reload nginx; returns once the new workers answer."""
        super().set_bandwidth(mbps)
        if not self.running:
            return                    # the next start writes it
        old = ask_health(self.base_url).get("worker")
        self._write_rate()
        assert self._proc is not None
        self._proc.send_signal(signal.SIGHUP)
        self._wait_ready(self._proc, self._generation)
        if isinstance(old, int):
            wait_gone(old)            # until then a new connection may still meet the old rate

    # -- content ------------------------------------------------------------------------------
    def fill(self, key: str) -> int:
        """Proactive push: ask our own nginx for `key` (marked as a fill, not a viewer's request);
        bytes pulled from the origin (0 when already cached, or when the edge is stopped)."""
        _, video_id, rest = key.split("/", 2)
        if not self.running:
            return 0
        request = urllib.request.Request(self.url_for(video_id, rest, 300), headers={"X-Miniflix-Fill": "1"})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                size = len(resp.read())
                return size if resp.headers.get("X-Cache") in ("MISS", "EXPIRED") else 0
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (403, 404):
                raise NotFound(f"Edge {self.name} could not fill {key!r}: not a player object at the "
                               f"origin ({exc.code}).") from None
            raise OriginError(f"Edge {self.name} could not fill {key!r}: answered {exc.code}.") from None
        except OSError as exc:
            raise OriginError(f"Edge {self.name} could not fill {key!r}: {exc}") from exc

    def purge_title(self, video_id: str) -> int:
        return self.cache.purge_title(video_id)

    def has_title(self, video_id: str) -> int:
        return self.cache.title_objects(video_id)

    # -- reporting ----------------------------------------------------------------------------
    def load(self) -> float:
        """Share of `max_clients` nginx was answering at its last look (at most LOAD_POLL_S old: a
        plain read, steering calls this per edge)."""
        return self._load if self.running else 0.0

    def flush_log(self) -> None:
        """Ask nginx to write its buffered hits now (it does so when reopening its logs)."""
        if self.running:
            assert self._proc is not None
            self._proc.send_signal(signal.SIGUSR1)

    def _poll(self) -> None:
        """From the tail thread: the hits (unless the tail process has them), and every LOAD_POLL_S
        nginx's own count of requests in progress and the objects its cache manager evicted since
        the last look (as `evict` events), and its logs rotated when they grew too big; a tail
        process that died is started again."""
        if self.hit_tail is None:
            self._drain_hits()
        now = time.monotonic()
        if now - self._load_at < LOAD_POLL_S or not self.running:
            return
        if self.hit_tail is not None and not self.hit_tail.running:
            self._restart_hit_tail()
        self._load_at = now
        rotate((self.layout.access_log, self.layout.hits_log), self.flush_log)
        self._note_load(ask_health(self.base_url))
        self.cache.entries()
        self._publish_evictions()

    def _publish_evictions(self) -> None:
        at = self.clock.now()
        self._publish([(self.name, self._event("evict", key.split("/")[1], key, size, at))
                       for key, size in self.cache.take_evictions()])

    def _note_load(self, report: dict[str, Any]) -> None:
        writing = report.get("writing")
        if isinstance(writing, int):
            self._load = min(1.0, max(0, writing - 1) / max(1, self.spec.max_clients))

    def health(self) -> dict[str, Any]:
        """The Python edge's report. Misses count once answered (nginx's one worker logs a request
        before it takes the next, so our own /health round trip is a barrier; the tail then reads
        what is logged); hits once their tail published them (see hit_tail: seconds later)."""
        if self.running:
            self._note_load(ask_health(self.base_url))
        self.tailer.drain()
        stats = self.cache.stats()
        hits = self.hits.state()
        with self._lock:
            c = dict(self._counts)
            throughput = self._throughput_locked() + _recent_bytes(hits["seconds"]) * 8 / THROUGHPUT_WINDOW_S
        c["hits"] += hits["hits"] - self._hits_base["hits"]
        c["hit_bytes"] += hits["hit_bytes"] - self._hits_base["hit_bytes"]
        lookups = c["hits"] + c["misses"]
        return {"name": self.name, "region": self.spec.region, "healthy": self.running, "load": self.load(),
                "cached_bytes": stats["cached_bytes"], "capacity_bytes": self.spec.capacity_bytes,
                "hit_ratio": c["hits"] / lookups if lookups else 0.0, "throughput_bps": throughput,
                "objects": stats["objects"], "titles": stats["titles"], "hits": c["hits"],
                "misses": c["misses"], "hit_bytes": c["hit_bytes"], "miss_bytes": c["miss_bytes"],
                "port": self._port, "url": self.base_url if self.running else None,
                "rtt_ms": self.spec.rtt_ms, "bandwidth_mbps": self.bandwidth_mbps, "policy": "nginx",
                "events_dropped": self.events.dropped + self._dropped, "engine": "nginx"}

    def report_health(self, healthy: bool) -> None:
        event = self._event("health", "", "", 0, self.clock.now())
        event.update(healthy=healthy, load=self.load())
        self.events.emit(self.name, event)

    # -- the access log -----------------------------------------------------------------------
    def _logged(self, lines: list[str]) -> None:
        """Access log lines -> counters and the Python edge's events (`fill`, then `hit`/`miss`),
        published in one batch from the tail thread (no queue hop: this thread is off every request)."""
        events: list[tuple[str, dict[str, Any]]] = []
        served_lines = [served for served in map(parse_line, lines) if served is not None]
        if any(served.fetched for served in served_lines):
            self.cache.entries(fresh=True)   # new objects for steering; evictions for the miss class
            self._publish_evictions()
        for served in served_lines:
            if served.fetched and served.upstream_bytes:
                events.append((self.name, self._event("fill", served.video_id, served.key,
                                                      served.upstream_bytes, served.at)))
            if not served.fill:
                events.append((self.name, self._record(served)))
        self._publish(events)

    def _record(self, served: Served) -> dict[str, Any]:
        hit = not served.fetched
        with self._lock:
            self._counts["hits" if hit else "misses"] += 1
            self._counts["hit_bytes" if hit else "miss_bytes"] += served.sent
            self._served.append((served.at, served.sent))
        event = hit_event(self.name, self.spec.region, served)
        if not hit:
            event["type"], event["reason"] = "miss", self._miss_reason(served)
        return event

    def _restart_hit_tail(self) -> None:
        """Start a tail process that ended; after MAX_TAIL_STARTS this thread publishes the hits."""
        assert self.hit_tail is not None
        if self.hit_tail.starts < MAX_TAIL_STARTS:
            self.hit_tail.start()
            return
        log.error("edge %s: the hit tail process keeps ending; publishing hits from the app", self.name)
        self.hit_tail = None

    def _drain_hits(self) -> None:
        self.hits.drain(self._publish)

    def _miss_reason(self, served: Served) -> str:
        """capacity: nginx had it and evicted it; health: a spill-over from down home edges;
        content: anything else (as the Python edge classes its misses)."""
        if self.cache.was_evicted(served.key):
            return "capacity"
        if self.spillover is not None and self.spillover(served.video_id):
            return "health"
        return "content"

    def _publish(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """One durable batch; a log that is down loses the batch (counted), never the edge."""
        publisher = self.events.publisher
        if publisher is None or not events:
            return
        try:
            many = getattr(publisher, "publish_many", None)
            if many is not None:
                many(CDN_TOPIC, events)
            else:
                for key, value in events:
                    publisher.publish(CDN_TOPIC, key, value)
        except Exception:
            log.exception("edge %s could not publish %d cdn events", self.name, len(events))
            self._dropped += len(events)

    def _throughput_locked(self) -> float:
        return throughput_bps(self._served, time.time())

    def _event(self, kind: str, video_id: str, key: str, nbytes: int, at: float) -> dict[str, Any]:
        return {"type": kind, "edge": self.name, "region": self.spec.region, "video_id": video_id,
                "object": key, "bytes": nbytes, "at": at}

    # -- the process --------------------------------------------------------------------------
    def _write_conf(self) -> None:
        assert self._origin is not None
        secret = getattr(self.signer, "secret", "")
        if not secret:
            raise NginxFailed(f"Edge {self.name}: nginx edges need links nginx can check.",
                              hint="build the CDN with edge_engine=nginx (it picks the signer)")
        text = nginx_conf.render_conf(self.spec, self.layout, self._port, self._origin.port, secret)
        write_private(self.layout.conf, text)
        self._write_rate()

    def _write_rate(self) -> None:
        self._generation += 1
        write_private(self.layout.rate_conf, nginx_conf.render_rate(self.bandwidth_mbps, self._generation))

    def _spawn(self, binary: str) -> None:
        argv = [binary, "-p", str(self.layout.root), "-c", str(self.layout.conf),
                "-e", str(self.layout.error_log)]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self._proc = proc
        try:
            self._wait_ready(proc, self._generation)
        except BaseException:
            self._proc = None
            terminate(proc)
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes], generation: int) -> None:
        """Until /health answers with this config generation (new workers after a reload)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise NginxFailed(f"nginx of edge {self.name} exited ({proc.returncode}): "
                                  f"{self._error_tail()}", hint="see its error log in the data dir")
            if ask_health(self.base_url).get("generation") == generation:
                return
            time.sleep(0.02)
        raise NginxFailed(f"nginx of edge {self.name} did not answer within {START_TIMEOUT_S:g} s: "
                          f"{self._error_tail()}")

    def _error_tail(self) -> str:
        """The last words of the error log, without the data dir's paths."""
        with contextlib.suppress(OSError):
            text = self.layout.error_log.read_text(errors="replace")[-ERROR_LOG_TAIL:]
            return text.replace(str(self.layout.root), "<edge dir>").strip()
        return "(no error log)"


def _recent_bytes(seconds: dict[str, int]) -> int:
    """Bytes of the hits served within the last THROUGHPUT_WINDOW_S, from the tail's per-second sums."""
    horizon = time.time() - THROUGHPUT_WINDOW_S
    return sum(n for second, n in seconds.items() if int(second) + 1 > horizon)
