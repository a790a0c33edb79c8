"""Benchmark: time to the first byte of the first segment through `/play`, cold and warm edge cache.

A player's whole start path over real HTTP (waitress + Flask + a real edge listener with its simulated
RTT/bandwidth): GET /play/<id>/master.m3u8 → 302 → edge master → media playlist → init segment →
first media segment, clock stopped at that segment's first body byte. Cold: the chosen edge's cache
is emptied before each run (every object is pulled from the origin); warm: everything cached.
Baseline in the same run: the same four fetches straight from the origin blueprint (no steering,
no edge, no simulated link), and the /play decision alone (the 302).

    .venv/bin/python bench/play_ttfb.py [--runs 30] [--region eu-west]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.catalog import Catalog
from server.cdn.cluster import CDN
from server.cdn.origin import StoreOrigin
from server.cdn.steering import Steering
from server.cdn.topology import Topology
from server.events.log import open_event_log
from server.http.app import create_app
from server.http.runner import HttpServer
from server.http.services import Services
from server.paths import DataDir
from server.storage.blobstore import LocalBlobStore
from tests.http.conftest import VIDEO_ID, encode_title, publish


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection (as a player opening a new host would)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def first_byte(url: str) -> dict[str, str]:
    """GET until the first body byte; the response headers."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path)
        response = conn.getresponse()
        assert response.status == 200 and response.read(1), url
        return {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


class Start:
    """One player start: wall seconds to the first segment byte, and the part the edges simulated."""

    def __init__(self) -> None:
        self.simulated_ms = 0.0

    def get(self, url: str) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = get(url)
        self.simulated_ms += float(headers.get("x-sim-delay-ms", 0))
        return status, headers, body

    def run(self, master_url: str) -> float:
        began = time.perf_counter()
        status, headers, body = self.get(master_url)
        if status == 302:
            master_url = headers["location"]
            status, headers, body = self.get(master_url)
        variant = urllib.parse.urljoin(master_url, _first_uri(body.decode(), "#EXT-X-STREAM-INF"))
        media = self.get(variant)[2].decode()
        init = media.split('#EXT-X-MAP:URI="', 1)[1].split('"', 1)[0]
        self.get(urllib.parse.urljoin(variant, init))
        headers = first_byte(urllib.parse.urljoin(variant, _first_uri(media, "#EXTINF")))
        self.simulated_ms += float(headers.get("x-sim-delay-ms", 0))
        return time.perf_counter() - began


SIMULATED: dict[str, list[float]] = {}


def start_path(master_url: str, label: str = "") -> float:
    """Seconds from the first request to the first segment's first byte (simulated part kept by label)."""
    start = Start()
    elapsed = start.run(master_url)
    SIMULATED.setdefault(label, []).append(start.simulated_ms)
    return elapsed


def _first_uri(playlist: str, after_tag: str) -> str:
    lines = playlist.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(after_tag))
    return next(line for line in lines[index + 1:] if line and not line.startswith("#"))


def series(runs: int, once: Callable[[], float], before: Callable[[], None] = lambda: None) -> list[float]:
    samples = []
    for _ in range(runs):
        before()
        samples.append(once() * 1000)
    return samples


def row(name: str, samples: list[float], label: str = "") -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    simulated = statistics.median(SIMULATED[label]) if SIMULATED.get(label) else 0.0
    return (f"| {name:<44} | {statistics.median(ordered):8.1f} | {p95:8.1f} | {min(ordered):8.1f} |"
            f" {simulated:8.1f} | {len(ordered):4d} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--region", default="eu-west")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="miniflix-ttfb-") as tmp:
        made_dir = Path(tmp) / "made"
        made_dir.mkdir()
        data = DataDir.resolve(Path(tmp) / "data")
        publish(data, encode_title(made_dir, 4))
        services = Services(data=data, catalog=Catalog(data.catalog_db), store=LocalBlobStore(data.origin),
                            events=open_event_log(data)).start()
        services.cdn = CDN(Topology.default(), StoreOrigin(services.store), data, services.events)
        services.steering = Steering(services.cdn, services.events)
        services.cdn.start()
        services.started += ["cdn", "steering"]
        try:
            with HttpServer(create_app(services), on_stop=services.stopping) as server:
                print(report(server, services, args.runs, args.region))
        finally:
            services.stop()
    return 0


def report(server: HttpServer, services: Services, runs: int, region: str) -> str:
    play = f"{server.url}/play/{VIDEO_ID}/master.m3u8?region={region}"
    edge = services.steering.best(VIDEO_ID, region)
    spec = services.cdn.edge(edge.edge).spec
    clear = services.cdn.edge(edge.edge).cache.clear
    start_path(play)  # warm up Python and the connections' code paths once
    rows = [row("origin direct (baseline, no edge, no sim. link)",
                series(runs, lambda: start_path(f"{server.url}/origin/videos/{VIDEO_ID}/master.m3u8"))),
            row("/play decision alone (302)", series(runs, lambda: _timed(lambda: get(play)))),
            row(f"/play → {edge.edge}, cold edge cache",
                series(runs, lambda: start_path(play, "cold"), clear), "cold"),
            row(f"/play → {edge.edge}, warm edge cache", series(runs, lambda: start_path(play, "warm")),
                "warm")]
    head = (f"Client region {region}; chosen edge {edge.edge}: simulated RTT {spec.rtt_ms:g} ms/response, "
            f"link {spec.bandwidth_mbps or 'uncapped'} Mbit/s; 5 requests per start (302, master, media, "
            f"init, segment); `sim ms` = the edges' simulated RTT + link time (median), included in the "
            f"wall times; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.\n\n"
            "| path | p50 ms | p95 ms | min ms | sim ms | runs |\n|---|---:|---:|---:|---:|---:|")
    return "\n".join([head, *rows])


def _timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


if __name__ == "__main__":
    sys.exit(main())
