"""Benchmark: the edges serving cached segments vs a plain nginx serving the same files, by wrk.

All serve a 1 MB and a 100 KB segment over loopback (simulated RTT and bandwidth off, caches warmed
first). Plain nginx runs one worker with sendfile and no access log (the Python edge is one Python
process). Rows: the Python edge without and with the real event log (one `cdn` event per request,
SQLite WAL), and the nginx edge (edge_engine=nginx: its generated config, one worker, the signed-link
check, proxy_cache, its JSON access log tailed into the same event log; and once more with its tail
paused, to show what nginx alone does with that config). Targets: Python edge MB/s
>= 0.5 of nginx's on 1 MB segments; nginx edge >= 0.9 of plain nginx on both sizes. Each ratio is
taken within one round (targets interleaved) and shown as median [min-max] over the rounds.

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
from dataclasses import dataclass
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
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
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


def events_in(log: EventLog) -> int:
    return sum(head for (topic, _), head in log.heads(["cdn"]).items() if topic == "cdn")


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
    """A URL to load, the processes whose CPU serving it costs, and what to finish after a run
    (an nginx edge's log tail catches up here, its CPU counted, outside wrk's timed window)."""

    url: str
    processes: list[psutil.Process]
    settle: Callable[[], object] = lambda: None


def cpu_s(processes: list[psutil.Process]) -> float:
    return sum(t.user + t.system for t in (p.cpu_times() for p in processes))


def measure(targets: dict[str, Target], rounds: int, seconds: int,
            connections: int) -> dict[str, list[tuple[float, float, float]]]:
    """(requests/s, MB/s, CPU µs per request) per target and round, targets interleaved within each
    round so a burst of load from other processes hits all of them alike."""
    runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label in targets}
    for _ in range(rounds):
        for label, target in targets.items():
            before = cpu_s(target.processes)
            rps, mbs, done = wrk(target.url, seconds, connections)
            target.settle()
            runs[label].append((rps, mbs, (cpu_s(target.processes) - before) / max(1, done) * 1e6))
    return runs


def nginx_worker(master_pid: int) -> psutil.Process:
    return next(p for p in psutil.Process(master_pid).children() if "worker" in " ".join(p.cmdline()))


def edge_target(edge: EdgeNode | NginxEdge, seg: str) -> Target:
    this = psutil.Process()
    if isinstance(edge, NginxEdge):
        assert edge.pid is not None
        return Target(edge.url_for("bench", seg), [nginx_worker(edge.pid), this], edge.health)
    return Target(edge.url_for("bench", seg), [this], edge.events.flush)


def spread(values: list[float], fmt: str = ",.0f") -> str:
    """median [min-max]"""
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def print_rows(name: str, runs: dict[str, list[tuple[float, float, float]]]) -> None:
    """One table row per target; the ratio to plain nginx is taken round by round."""
    base = [mbs for _, mbs, _ in runs[PLAIN]]
    for label, got in runs.items():
        shares = [m / b for (_, m, _), b in zip(got, base, strict=True)]
        ratios = "" if label == PLAIN else spread(shares, ".2f")
        rps, mbs, cpu = (spread([row[i] for row in got]) for i in range(3))
        print(f"| {name} | {label} | {rps} | {mbs} | {ratios} | {cpu} |")


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
                 "nginx edge + access log -> event log": start_edge(root, "bench-3", events, NginxEdge),
                 "nginx edge, log tail paused": start_edge(root, "bench-4", None, NginxEdge)}
        edges["nginx edge, log tail paused"].tailer.close()     # nginx alone: what the tail costs
        nginx, port = start_nginx(root / "nginx", root / "origin" / "videos" / "bench")
        try:
            run(edges, port, nginx_worker(nginx.pid), args)
            report_events(edges, events)
        finally:
            for edge in edges.values():
                edge.close()
            events.close()
            nginx.terminate()
            nginx.wait(timeout=10)


def run(edges: dict[str, EdgeNode | NginxEdge], port: int, plain_worker: psutil.Process,
        args: argparse.Namespace) -> None:
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s, {args.rounds} interleaved rounds, loopback, "
          f"{os.cpu_count()} cores, load average before {os.getloadavg()[0]:.1f}")
    print("| segment | server | requests/s median [min-max] | MB/s median [min-max] "
          "| vs nginx (MB/s, same round) | CPU µs/request (server + its Python) |")
    print("|---|---|---|---|---|---|")
    for name in SIZES:
        seg = f"{RENDITION}/seg_{name}.m4s"
        targets = {PLAIN: Target(f"http://127.0.0.1:{port}/{seg}", [plain_worker])}
        targets.update({label: edge_target(edge, seg) for label, edge in edges.items()})
        print_rows(name, measure(targets, args.rounds, args.seconds, args.connections))
    print(f"load average after {os.getloadavg()[0]:.1f}")


def report_events(edges: dict[str, EdgeNode | NginxEdge], events: EventLog) -> None:
    """Every request of the logged edges must have become a `cdn` event (none dropped)."""
    requests, dropped = 0, 0
    for edge in edges.values():
        if isinstance(edge, NginxEdge):
            edge.tailer.drain()
        edge.events.flush()
        if edge.events.publisher is not None:
            health = edge.health()
            requests += health["hits"] + health["misses"]
            dropped += health["events_dropped"]
    stored = events_in(events) - 2 * len(edges)     # less the edges' start events (health + the warm fill)
    print(f"logged edges: {requests:,} requests counted, ~{stored:,} cdn events stored, {dropped:,} dropped")


if __name__ == "__main__":
    main()
