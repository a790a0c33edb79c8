"""Benchmark: an edge serving cached segments vs nginx serving the same files, measured by wrk.

Both serve a 1 MB and a 100 KB segment from disk over loopback (simulated RTT and bandwidth off,
the edge's cache warmed first, no event log attached). nginx runs one worker with sendfile (the edge
is one Python process). Target: edge MB/s >= 0.5 of nginx's on 1 MB segments. A second edge with
the real event log attached (one `cdn` event per request, SQLite WAL) shows the cost of telemetry.

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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.cdn.edge import EdgeNode
from server.cdn.origin import StoreOrigin
from server.cdn.tokens import Signer
from server.cdn.topology import EdgeSpec
from server.events.log import EventLog
from server.storage.blobstore import LocalBlobStore

SIZES = {"1MB": 1_000_000, "100KB": 100_000}
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


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float]:
    """(requests/s, MB/s) of one wrk run with one thread."""
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out).groups()  # type: ignore[union-attr]
    if "Non-2xx" in out or "Socket errors" in out:
        print(f"  wrk reported errors for {url}:\n{out}")
    return rps, float(value) * UNITS[unit] / 1e6


def start_edge(root: Path, name: str, publisher: EventLog | None = None) -> EdgeNode:
    store = LocalBlobStore(root / "origin")
    for size_name, size in SIZES.items():
        if not store.exists(f"videos/bench/seg_{size_name}.m4s"):
            store.put(f"videos/bench/seg_{size_name}.m4s", os.urandom(size))
    spec = EdgeSpec(name, "local", 0, 0, rtt_ms=0, bandwidth_mbps=None, capacity_bytes=10**9, ttl_s=3600,
                    policy="s3fifo", max_clients=256)
    edge = EdgeNode(spec, StoreOrigin(store), root / name, Signer(os.urandom(32)), publisher)
    edge.start()
    for name in SIZES:
        with urllib.request.urlopen(edge.url_for("bench", f"seg_{name}.m4s")) as resp:
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


def measure(targets: dict[str, str], rounds: int, seconds: int,
            connections: int) -> dict[str, tuple[float, float]]:
    """Median (requests/s, MB/s) per target over `rounds`, targets interleaved within each round so
    a burst of load from other processes hits all of them alike."""
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label in targets}
    for _ in range(rounds):
        for label, url in targets.items():
            runs[label].append(wrk(url, seconds, connections))
    return {label: (statistics.median(r for r, _ in got), statistics.median(m for _, m in got))
            for label, got in runs.items()}


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
        edge = start_edge(root, "bench-1")
        events = EventLog(root / "events.sqlite")
        logged = start_edge(root, "bench-2", events)
        nginx, port = start_nginx(root / "nginx", root / "origin" / "videos" / "bench")
        try:
            print(f"wrk -t1 -c{args.connections} -d{args.seconds}s, median of {args.rounds} interleaved "
                  f"rounds, loopback, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
            print("| segment | server | requests/s | MB/s | vs nginx (MB/s) |")
            print("|---|---|---|---|---|")
            for name in SIZES:
                seg = f"seg_{name}.m4s"
                got = measure({"nginx 1 worker": f"http://127.0.0.1:{port}/{seg}",
                               "miniflix edge": edge.url_for("bench", seg),
                               "miniflix edge + event log": logged.url_for("bench", seg)},
                              args.rounds, args.seconds, args.connections)
                base = got["nginx 1 worker"][1]
                for label, (rps, mbs) in got.items():
                    share = "" if label.startswith("nginx") else f"{mbs / base:.2f}"
                    print(f"| {name} | {label} | {rps:,.0f} | {mbs:,.0f} | {share} |")
            logged.events.flush()
            health = logged.health()
            print(f"edge hit ratio {edge.health()['hit_ratio']:.4f}; logged edge: {events_in(events):,} cdn "
                  f"events stored for {health['hits'] + health['misses']:,} requests, "
                  f"{health['events_dropped']:,} dropped")
        finally:
            logged.close()
            events.close()
            edge.close()
            nginx.terminate()
            nginx.wait(timeout=10)


if __name__ == "__main__":
    main()
