"""Benchmark: disk and memory an upload costs the server (real waitress + Flask on loopback).

Streams a body of `--mb` MiB to `POST /api/uploads` from a raw socket and samples, every 10 ms,
the bytes on disk for it (the uploads folder plus every file the process holds open in the system
temp dir, where waitress buffers bodies in unlinked files) and the process RSS. Then declares a
body over the limit and reports whether the answer came before any of it was sent.

    .venv/bin/python bench/upload_disk.py [--mb 200]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.engine import Engine
from server.http.app import create_app
from server.http.runner import HttpServer
from server.http.services import Services
from server.paths import DataDir

MiB = 1024 * 1024
BLOCK = b"\x5a" * MiB


def temp_bytes(skip: str) -> int:
    """Bytes in files this process holds open in the system temp dir (not under `skip`)."""
    temp, total = os.path.realpath(tempfile.gettempdir()) + "/", 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(temp) and not target.startswith(skip) and "(deleted)" in target:
                total += os.stat(f"/proc/self/fd/{fd}").st_size
        except OSError:
            continue
    return total


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


class Sampler(threading.Thread):
    """Peak disk (uploads folder + temp buffers) and peak RSS while the upload runs."""

    def __init__(self, uploads: Path) -> None:
        super().__init__(daemon=True)
        self.uploads, self.skip = uploads, os.path.realpath(uploads.parent) + "/"
        self.peak_disk = self.peak_rss = 0
        self.done = threading.Event()

    def run(self) -> None:
        process = psutil.Process()
        while not self.done.wait(0.01):
            disk = folder_bytes(self.uploads) + temp_bytes(self.skip)
            self.peak_disk = max(self.peak_disk, disk)
            self.peak_rss = max(self.peak_rss, process.memory_info().rss)


def upload(server: HttpServer, size: int) -> tuple[int, dict[str, object]]:
    with socket.create_connection((server.host, server.port), timeout=120) as sock:
        head = (f"POST /api/uploads?name=bench.bin HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n")
        sock.sendall(head.encode())
        for _ in range(size // MiB):
            sock.sendall(BLOCK)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


def refused_unread(server: HttpServer, size: int) -> tuple[int, float]:
    """Declare `size` bytes, send none: the status, and seconds to the answer."""
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        start = time.perf_counter()
        sock.sendall((f"POST /api/uploads?name=huge.bin HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
                      f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n").encode())
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
        except TimeoutError:
            return 0, time.perf_counter() - start
        return response.status, time.perf_counter() - start


def measure_upload(server: HttpServer, uploads: Path, mb: int) -> None:
    rss_before = psutil.Process().memory_info().rss
    sampler = Sampler(uploads)
    sampler.start()
    start = time.perf_counter()
    status, _ = upload(server, mb * MiB)
    seconds = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    print(f"upload {mb} MiB: HTTP {status} in {seconds:.2f} s ({mb / seconds:.0f} MiB/s); "
          f"peak on disk {sampler.peak_disk / MiB:.0f} MiB ({sampler.peak_disk / (mb * MiB):.2f}x the body); "
          f"peak RSS {sampler.peak_rss / MiB:.0f} MiB (+{(sampler.peak_rss - rss_before) / MiB:.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="upload size in MiB (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = DataDir.resolve(Path(tmp) / "data")
        engine = Engine(data)
        services = Services(data=data, catalog=engine.catalog, store=engine.origin, events=engine.events)
        services.ingest = engine.ingest_service()
        services.start()
        app = create_app(services)
        try:
            with HttpServer(app, on_stop=services.stopping) as server:
                measure_upload(server, data.uploads, args.mb)
                status, waited = refused_unread(server, int(app.config["UPLOAD_LIMIT_BYTES"]) + MiB)
                print(f"declared limit+1 MiB, body not sent: HTTP {status or 'none (server waited)'} "
                      f"after {waited:.2f} s")
        finally:
            services.stop()


if __name__ == "__main__":
    main()
