"""Benchmark: the edges serving cached segments vs a plain nginx serving the same files, by wrk.

All serve a 1 MB and a 100 KB segment over loopback (simulated RTT and bandwidth off, caches warmed
first). Plain nginx runs one worker with no access log and the nginx edge's socket settings (sendfile,
tcp_nopush, tcp_nodelay, postpone_output 0): the same file, tuned the same way. Rows: the Python edge
without and with the real event log (one `cdn` event per request, SQLite WAL), and the nginx edge
(edge_engine=nginx: its generated config, one worker, the signed-link check, proxy_cache, its
buffered hits log turned into events in the same event log by the SCHED_IDLE tail process; and once
more with no tail at all, to show what nginx alone does with that config). After each wrk run the
tail catches up (nginx flushes its buffer, the tail publishes) outside the timed window, its CPU
counted. Targets: Python edge MB/s >= 0.5 of nginx's on 1 MB segments; nginx edge >= 0.9 of plain
nginx on both sizes. Each ratio is taken within one round (targets interleaved) and shown as
median [min-max] over the rounds; the load average is printed before each size.

    .venv/bin/python bench/edge_serving.py [--seconds 3] [--rounds 3] [--connections 8]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.cdn.edge import EdgeNode
from server.cdn.nginx_edge import NginxEdge
from server.cdn.origin import StoreOrigin
from server.cdn.tokens import NginxSigner, Signer
from server.cdn.topology import EdgeSpec
from server.events.log import EventLog
from server.storage.blobstore import LocalBlobStore

SIZES = {"1MB": 1_000_000, "100KB": 100_000}
RENDITION = "cmaf/bench"          # edges serve only player objects: segments live under cmaf/
PLAIN = "nginx 1 worker"
UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
NGINX_CONF = """daemon off; worker_processes 1; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on; tcp_nodelay on; postpone_output 0;
  keepalive_requests 100000;
  client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
  types {{ video/iso.segment m4s; }}
  server {{ listen 127.0.0.1:{port}; root {root}/www; }} }}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float, int]:
    """(requests/s, MB/s, requests) of one wrk run with one thread."""
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out).groups()  # type: ignore[union-attr]
    if "Non-2xx" in out or "Socket errors" in out:
        print(f"  wrk reported errors for {url}:\n{out}")
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, float(value) * UNITS[unit] / 1e6, done


def origin_store(root: Path) -> LocalBlobStore:
    store = LocalBlobStore(root / "origin")
    for size_name, size in SIZES.items():
        if not store.exists(f"videos/bench/{RENDITION}/seg_{size_name}.m4s"):
            store.put(f"videos/bench/{RENDITION}/seg_{size_name}.m4s", os.urandom(size))
    return store


def start_edge(root: Path, name: str, publisher: EventLog | None = None,
               kind: type[EdgeNode] | type[NginxEdge] = EdgeNode) -> EdgeNode | NginxEdge:
    spec = EdgeSpec(name, "local", 0, 0, rtt_ms=0, bandwidth_mbps=None, capacity_bytes=10**9, ttl_s=3600,
                    policy="s3fifo", max_clients=256)
    signer = (NginxSigner if kind is NginxEdge else Signer)(os.urandom(32))
    edge = kind(spec, StoreOrigin(origin_store(root)), root / name, signer, publisher)
    edge.start()
    for name in SIZES:
        with urllib.request.urlopen(edge.url_for("bench", f"{RENDITION}/seg_{name}.m4s")) as resp:
            resp.read()          # warm: every timed request is a HIT
    return edge


def start_nginx(root: Path, source: Path) -> tuple[subprocess.Popen[bytes], int]:
    www = root / "www"
    shutil.copytree(source, www)
    (root / "tmp").mkdir()
    for path in [root, www, *www.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    port = free_port()
    (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port))
    proc = subprocess.Popen(["nginx", "-c", str(root / "nginx.conf")])
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nginx did not start; see {root}/error.log")


@dataclass(frozen=True)
class Target:
    """A URL to load, the processes whose CPU serving it costs (the server; its Python helpers),
    and what to finish after a run (an nginx edge's hit tail catches up here, its CPU counted,
    outside wrk's timed window)."""

    url: str
    server: list[psutil.Process]
    helpers: list[psutil.Process] = field(default_factory=list)
    settle: Callable[[], object] = lambda: None


def cpu_s(processes: list[psutil.Process]) -> float:
    return sum(t.user + t.system for t in (p.cpu_times() for p in processes))


Run = tuple[float, float, float, float]      # requests/s, MB/s, server CPU µs/req, helpers CPU µs/req


def measure(targets: dict[str, Target], rounds: int, seconds: int, connections: int) -> dict[str, list[Run]]:
    """One Run per target and round, targets interleaved within each round so a burst of load from
    other processes hits all of them alike."""
    runs: dict[str, list[Run]] = {label: [] for label in targets}
    for _ in range(rounds):
        for label, target in targets.items():
            server, helpers = cpu_s(target.server), cpu_s(target.helpers)
            rps, mbs, done = wrk(target.url, seconds, connections)
            target.settle()
            per = 1e6 / max(1, done)
            runs[label].append((rps, mbs, (cpu_s(target.server) - server) * per,
                                (cpu_s(target.helpers) - helpers) * per))
    return runs


def nginx_worker(master_pid: int) -> psutil.Process:
    return next(p for p in psutil.Process(master_pid).children() if "worker" in " ".join(p.cmdline()))


def edge_target(edge: EdgeNode | NginxEdge, seg: str) -> Target:
    this = psutil.Process()
    if isinstance(edge, NginxEdge):
        assert edge.pid is not None
        tail = [psutil.Process(edge.hit_tail.pid)] if edge.hit_tail and edge.hit_tail.pid else []
        return Target(edge.url_for("bench", seg), [nginx_worker(edge.pid)], [this, *tail],
                      lambda: catch_up(edge))
    return Target(edge.url_for("bench", seg), [this], [], edge.events.flush)


def catch_up(edge: NginxEdge, timeout_s: float = 120.0) -> None:
    """Until the edge's tail published every hit nginx logged (nginx writes its buffer on USR1)."""
    if edge.hit_tail is None:
        return
    edge.flush_log()
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline:
        size = edge.hits.path.stat().st_size if edge.hits.path.exists() else 0
        if size == last and edge.hits.state()["offset"] == size:
            return
        last = size
        time.sleep(0.2)
    print(f"  the hit tail of {edge.name} did not catch up within {timeout_s:g} s")


def spread(values: list[float], fmt: str = ",.0f") -> str:
    """median [min-max]"""
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def print_rows(name: str, runs: dict[str, list[Run]]) -> None:
    """One table row per target; the ratio to plain nginx is taken round by round."""
    base = [run[1] for run in runs[PLAIN]]
    for label, got in runs.items():
        shares = [run[1] / b for run, b in zip(got, base, strict=True)]
        ratios = "" if label == PLAIN else spread(shares, ".2f")
        rps, mbs, server, helpers = (spread([row[i] for row in got]) for i in range(4))
        print(f"| {name} | {label} | {rps} | {mbs} | {ratios} | {server} | {helpers} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: apt-get install wrk nginx-light (or `make setup`)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        events = EventLog(root / "events.sqlite")
        edges = {"miniflix edge": start_edge(root, "bench-1"),
                 "miniflix edge + event log": start_edge(root, "bench-2", events),
                 "nginx edge + hits log -> event log": start_edge(root, "bench-3", events, NginxEdge),
                 "nginx edge, no tail": start_edge(root, "bench-4", None, NginxEdge)}
        edges["nginx edge, no tail"].tailer.close()     # nginx alone: what the tail costs
        nginx, port = start_nginx(root / "nginx", root / "origin" / "videos" / "bench")
        try:
            run(edges, port, nginx_worker(nginx.pid), args)
        finally:
            for edge in edges.values():
                edge.close()
            report_events(edges, events)
            events.close()
            nginx.terminate()
            nginx.wait(timeout=10)


def run(edges: dict[str, EdgeNode | NginxEdge], port: int, plain_worker: psutil.Process,
        args: argparse.Namespace) -> None:
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s, {args.rounds} interleaved rounds, loopback, "
          f"{os.cpu_count()} cores")
    print("| segment | server | requests/s median [min-max] | MB/s median [min-max] "
          "| vs nginx (MB/s, same round) | server CPU µs/request | its Python CPU µs/request |")
    print("|---|---|---|---|---|---|---|")
    for name in SIZES:
        print(f"load average before {name}: {os.getloadavg()[0]:.1f}")
        seg = f"{RENDITION}/seg_{name}.m4s"
        targets = {PLAIN: Target(f"http://127.0.0.1:{port}/{seg}", [plain_worker])}
        targets.update({label: edge_target(edge, seg) for label, edge in edges.items()})
        print_rows(name, measure(targets, args.rounds, args.seconds, args.connections))
    print(f"load average after {os.getloadavg()[0]:.1f}")


def report_events(edges: dict[str, EdgeNode | NginxEdge], events: EventLog) -> None:
    """Every request of the logged edges must have become exactly one hit or miss event."""
    stored = served_events(events)
    for label, edge in edges.items():        # closed: every request they logged is published
        if edge.events.publisher is not None:
            health = edge.health()
            requests, dropped = health["hits"] + health["misses"], health["events_dropped"]
            print(f"{label}: {requests:,} requests counted, "
                  f"{stored.get(edge.name, 0):,} hit/miss events stored, {dropped:,} dropped")


def served_events(events: EventLog) -> dict[str, int]:
    """hit + miss events in the log, per edge."""
    counts: dict[str, int] = {}
    while batch := events.poll("bench-count", ["cdn"], max_events=20_000, timeout=0):
        for event in batch:
            if event.value["type"] in ("hit", "miss"):
                counts[event.key] = counts.get(event.key, 0) + 1
    return counts


if __name__ == "__main__":
    main()
