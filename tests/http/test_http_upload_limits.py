"""Upload bodies on real waitress: refused unread when too large, written once, never left behind.

Raw sockets, so the tests decide which headers go out and when the body does (or does not).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from server.diskspace import free_bytes
from server.engine import Engine
from server.http.app import create_app
from server.http.runner import HttpServer
from server.http.services import Services
from server.paths import DataDir
from tests.jobs.helpers import mounted_small_disk

MiB = 1024 * 1024
WAIT_S = 20.0  # how long a test waits for the server to reach a state before it fails


def connect(server: HttpServer) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=WAIT_S)


def send_head(sock: socket.socket, server: HttpServer, path: str, headers: dict[str, str]) -> None:
    lines = [f"POST {path} HTTP/1.1", f"Host: {server.host}:{server.port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def read_response(sock: socket.socket) -> tuple[int, http.client.HTTPMessage, Any]:
    """Status, headers and JSON body of the next response on `sock`."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.headers, json.loads(response.read())


def upload_head(length: int | None, **extra: str) -> dict[str, str]:
    head = {"Content-Type": "application/octet-stream", **extra}
    if length is None:
        head["Transfer-Encoding"] = "chunked"
    else:
        head["Content-Length"] = str(length)
    return head


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    """Poll `condition` until it is truthy; fail naming `what` if it never is."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"never happened: {what}")


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.part"))


def largest_open_temp_file(outside: Path) -> int:
    """Size of the largest file this process holds open in the system temp dir, outside `outside`.

    Waitress buffers bodies in unlinked temp files, invisible in a listing but not in /proc.
    """
    temp, skip = os.path.realpath(tempfile.gettempdir()) + "/", os.path.realpath(outside) + "/"
    sizes = [0]
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(temp) and not target.startswith(skip):
                sizes.append(os.stat(f"/proc/self/fd/{fd}").st_size)
        except OSError:
            continue
    return max(sizes)


@pytest.fixture
def uploads(ingest: Services) -> Path:
    return ingest.data.uploads


@pytest.fixture
def limit_64k(app: Flask) -> Iterator[int]:
    app.config["UPLOAD_LIMIT_BYTES"] = 64 * 1024
    yield 64 * 1024


def test_a_huge_declared_upload_is_refused_in_json_before_its_body_is_sent(server: HttpServer, uploads: Path
                                                                            ) -> None:
    with connect(server) as sock:
        send_head(sock, server, "/api/uploads?name=huge.mp4", upload_head(10**12, Expect="100-continue"))
        status, headers, body = read_response(sock)  # no body was sent: the answer cannot wait for it
        assert sock.recv(1) == b"", "the connection closes after the refusal"
    assert status == 413 and headers["Connection"] == "close"
    assert body["error"] == "TooLarge" and "MiB" in body["message"] and "UPLOAD_LIMIT_MB" in body["hint"]
    assert files_in(uploads) == []


def test_a_body_just_over_the_limit_is_not_read_either(server: HttpServer, uploads: Path,
                                                       limit_64k: int) -> None:
    with connect(server) as sock:
        send_head(sock, server, "/api/uploads?name=big.mp4", upload_head(limit_64k + 1))
        status, _, body = read_response(sock)
    assert status == 413 and body["error"] == "TooLarge"
    assert files_in(uploads) == []


def test_a_client_that_sends_its_body_anyway_still_reads_the_413(server: HttpServer, uploads: Path,
                                                                  limit_64k: int) -> None:
    with connect(server) as sock:
        send_head(sock, server, "/api/uploads?name=big.mp4", upload_head(32 * MiB))
        sock.sendall(b"\0" * (32 * MiB))  # as a simple client does; more than socket buffers hold
        status, _, body = read_response(sock)
    assert status == 413 and body["error"] == "TooLarge"
    assert files_in(uploads) == []


def test_a_chunked_upload_is_refused_at_the_limit_and_leaves_nothing(server: HttpServer, ingest: Services,
                                                                     uploads: Path, limit_64k: int) -> None:
    with connect(server) as sock:
        send_head(sock, server, "/api/uploads?name=endless.mp4", upload_head(None))
        for _ in range(5):  # 80 KiB, over the 64 KiB limit, and no end chunk: the server must stop counting
            sock.sendall(chunk(b"\1" * 16 * 1024))
        status, _, body = read_response(sock)
    assert status == 413 and body["error"] == "TooLarge"
    assert files_in(uploads) == [] and ingest.ingest is not None and ingest.ingest.list_jobs() == []


def test_a_chunked_upload_within_the_limit_is_accepted(server: HttpServer, uploads: Path,
                                                       limit_64k: int) -> None:
    data = os.urandom(40 * 1024)
    with connect(server) as sock:
        send_head(sock, server, "/api/uploads?name=small.bin", upload_head(None))
        sock.sendall(chunk(data[:30000]) + chunk(data[30000:]) + b"0\r\n\r\n")
        status, _, body = read_response(sock)
    assert status == 202
    assert files_in(uploads) == [body["upload"]] and (uploads / body["upload"]).read_bytes() == data


def test_an_upload_is_written_once_into_the_uploads_folder(server: HttpServer, uploads: Path) -> None:
    data = os.urandom(8 * MiB)
    half = len(data) // 2
    with connect(server) as sock:
        send_head(sock, server, "/api/uploads?name=clip.mp4", upload_head(len(data)))
        sock.sendall(data[:half])
        part = wait_for(lambda: [p for p in parts(uploads) if p.stat().st_size == half],
                        "the first half of the body in a .part file of the uploads folder")[0]
        assert files_in(uploads) == [part.name]
        if Path("/proc/self/fd").is_dir():
            assert largest_open_temp_file(uploads.parent) < half, "no copy of the body in the system temp dir"
        inode = part.stat().st_ino
        sock.sendall(data[half:])
        status, _, body = read_response(sock)
    assert status == 202
    stored = uploads / body["upload"]
    assert files_in(uploads) == [stored.name] and stored.name.endswith("-clip.mp4")
    assert stored.stat().st_ino == inode, "the received file was renamed into place, not copied"
    assert stored.read_bytes() == data


def test_a_multipart_upload_keeps_only_the_file(server: HttpServer, uploads: Path) -> None:
    data = os.urandom(3 * MiB)
    form = (b"--b0undary\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"my clip.mp4\"\r\n"
            b"Content-Type: video/mp4\r\n\r\n" + data + b"\r\n--b0undary--\r\n")
    with connect(server) as sock:
        send_head(sock, server, "/api/uploads", {"Content-Type": "multipart/form-data; boundary=b0undary",
                                                 "Content-Length": str(len(form))})
        sock.sendall(form)
        status, _, body = read_response(sock)
    assert status == 202 and body["upload"].endswith("-my_clip.mp4")
    assert files_in(uploads) == [body["upload"]] and (uploads / body["upload"]).read_bytes() == data


def test_a_client_that_disconnects_mid_body_leaves_nothing(server: HttpServer, ingest: Services,
                                                           uploads: Path) -> None:
    sock = connect(server)
    send_head(sock, server, "/api/uploads?name=gone.mp4", upload_head(4 * MiB))
    sock.sendall(b"\2" * 100_000)
    wait_for(lambda: [p for p in parts(uploads) if p.stat().st_size == 100_000], "the body arriving")
    sock.close()
    wait_for(lambda: files_in(uploads) == [], "the half-received body removed")
    assert ingest.ingest is not None and ingest.ingest.list_jobs() == []


@pytest.mark.parametrize("length, name", [(0, "empty.mp4"), (10, "")])
def test_a_refused_upload_leaves_nothing(server: HttpServer, uploads: Path, length: int, name: str) -> None:
    with connect(server) as sock:
        send_head(sock, server, f"/api/uploads?name={name}", upload_head(length))
        sock.sendall(b"x" * length)
        status, _, body = read_response(sock)
    assert status == 400 and body["error"] == "InvalidRequest" and body["message"]
    assert files_in(uploads) == []


def test_an_upload_that_cannot_be_stored_says_why_without_a_path(server: HttpServer, uploads: Path) -> None:
    uploads.rmdir()  # e.g. removed by hand while the server runs
    with connect(server) as sock:
        send_head(sock, server, "/api/uploads?name=clip.mp4", upload_head(1000))
        status, _, body = read_response(sock)
    assert status == 500 and "could not store the upload" in body["message"]
    assert str(uploads.parent) not in json.dumps(body)


def test_json_bodies_over_the_api_limit_are_refused_unread(server: HttpServer, uploads: Path) -> None:
    with connect(server) as sock:
        send_head(sock, server, "/api/jobs", {"Content-Type": "application/json",
                                              "Content-Length": str(2 * MiB)})
        status, _, body = read_response(sock)
    assert status == 413 and body["error"] and body["message"]


def test_stale_parts_are_removed_at_start_and_live_ones_kept(app: Flask, uploads: Path) -> None:
    old, live, kept = uploads / "killed.part", uploads / "arriving.part", uploads / "clip.mp4"
    for path in (old, live, kept):
        path.write_bytes(b"x")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(kept, (hour_ago, hour_ago))
    with HttpServer(app):
        assert files_in(uploads) == ["arriving.part", "clip.mp4"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 20 MB tmpfs mounted in the test's temp dir (needs root, or CAP_SYS_ADMIN)."""
    with mounted_small_disk(tmp_path / "disk") as disk:
        yield disk


@pytest.fixture
def small_server(small_disk: Path) -> Iterator[tuple[HttpServer, Path]]:
    """A server whose data dir (and so its uploads folder) is on the 20 MB disk."""
    data = DataDir.resolve(small_disk / "data")
    engine = Engine(data)
    services = Services(data=data, catalog=engine.catalog, store=engine.origin, events=engine.events)
    services.ingest = engine.ingest_service()
    services.start()
    try:
        with HttpServer(create_app(services, {"TESTING": True}), on_stop=services.stopping) as server:
            yield server, data.uploads
    finally:
        services.stop()


def test_an_upload_larger_than_the_free_space_is_refused_unread(small_server: tuple[HttpServer, Path]
                                                                ) -> None:
    server, uploads = small_server
    with connect(server) as sock:
        send_head(sock, server, "/api/uploads?name=big.mp4", upload_head(30 * MiB))
        status, _, body = read_response(sock)
    assert status == 507 and body["error"] == "DiskFull" and "disk space" in body["message"]
    assert files_in(uploads) == []


def test_an_upload_that_fills_the_disk_is_refused_and_frees_it(small_server: tuple[HttpServer, Path]) -> None:
    server, uploads = small_server
    free = free_bytes(uploads)
    with connect(server) as sock:
        send_head(sock, server, "/api/uploads?name=endless.mp4", upload_head(None))
        for _ in range(30):  # 30 MiB of unknown length: only a failed write can stop it
            sock.sendall(chunk(b"\3" * MiB))
        sock.sendall(b"0\r\n\r\n")
        status, _, body = read_response(sock)
    assert status == 507 and body["error"] == "DiskFull" and "disk space" in body["message"]
    assert files_in(uploads) == [] and free_bytes(uploads) >= free - MiB


@pytest.mark.parametrize("extra, status", [
    ({"Origin": "http://evil.example"}, 403),
    ({"Content-Type": "text/plain"}, 415),
])
def test_an_upload_the_guard_refuses_is_not_read(server: HttpServer, uploads: Path,
                                                 extra: dict[str, str], status: int) -> None:
    """A cross-site page's upload is refused on its headers: nothing of it reaches the disk."""
    with connect(server) as sock:
        send_head(sock, server, "/api/uploads?name=clip.mp4", {**upload_head(50 * 1024 * 1024), **extra})
        answer, headers, _ = read_response(sock)  # no byte of the body was sent
    assert answer == status and headers["Connection"] == "close"
    assert files_in(uploads) == []
