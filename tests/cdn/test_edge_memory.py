"""An edge serving objects far larger than a segment keeps its memory flat: fills and pass-through
responses stream in bounded chunks (issue 16). The edge runs in its own process, whose peak resident
memory (Linux `VmHWM`, reset before each request) is read from /proc."""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.cdn.tokens import Signer
from server.storage.blobstore import LocalBlobStore
from tests.cdn.edge_process import KEY
from tests.cdn.origin_server import origin_server

MB = 1024 * 1024
BIG = 300 * MB            # larger than the cache: passed through, never stored
CACHEABLE = 96 * MB       # fits the cache: written to disk, then served from it
LIMIT = 64 * MB           # what one request may add to the edge's peak memory

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(),
                                reason="peak memory is read from Linux /proc")


class EdgeProcess:
    """The child process running one edge, and its peak-memory meter."""

    def __init__(self, proc: subprocess.Popen[str], port: int, cache: Path) -> None:
        self.proc, self.port, self.cache = proc, port, cache

    def reset_peak(self) -> int:
        """Start a new high-water mark at the current resident size (bytes)."""
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
        return self._status_kb("VmRSS") * 1024

    def peak(self) -> int:
        return self._status_kb("VmHWM") * 1024

    def _status_kb(self, field: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc status")

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], int]:
        """(status, headers, body bytes counted); the body is read in 1 MiB pieces and dropped."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        total = 0
        while chunk := resp.read(MB):
            total += len(chunk)
        conn.close()
        return resp.status, dict(resp.getheaders()), total


def sparse_object(store: LocalBlobStore, key: str, size: int) -> None:
    path = store.root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(size)


@pytest.fixture(params=["store", "http"], ids=["blob-store-origin", "http-origin"])
def edge_process(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[EdgeProcess]:
    """An edge (128 MiB cache) in a child process, pulling from a blob store or an HTTP origin."""
    store = LocalBlobStore(tmp_path / "origin")
    sparse_object(store, "videos/big/cmaf/1080p/seg_001.m4s", BIG)
    sparse_object(store, "videos/mid/cmaf/1080p/seg_001.m4s", CACHEABLE)
    with contextlib.ExitStack() as stack:
        origin = str(store.root)
        if request.param == "http":
            origin = stack.enter_context(origin_server(store.root, ranges=True))[0]
        yield stack.enter_context(run_edge(origin, tmp_path / "cache"))


@contextlib.contextmanager
def run_edge(origin: str, cache: Path) -> Iterator[EdgeProcess]:
    root = Path(__file__).resolve().parents[2]
    args = [sys.executable, "-m", "tests.cdn.edge_process", origin, str(cache), str(128 * MB)]
    proc = subprocess.Popen(args, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    try:
        edge = EdgeProcess(proc, json.loads(proc.stdout.readline())["port"], cache)
        edge.get("/health")
        yield edge
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def token_path(video_id: str, rest: str) -> str:
    token = Signer(KEY).sign(video_id, 2_000_000_000)
    return f"/t/{token}/videos/{video_id}/{rest}"


def grown_by(edge: EdgeProcess, path: str, headers: dict[str, str] | None = None
             ) -> tuple[int, dict[str, str], int, int]:
    before = edge.reset_peak()
    status, got_headers, size = edge.get(path, headers)
    return status, got_headers, size, edge.peak() - before


def test_a_one_byte_range_of_an_object_larger_than_the_cache_costs_no_memory(edge_process) -> None:
    path = token_path("big", "cmaf/1080p/seg_001.m4s")
    for _ in range(2):                       # never stored, so every request goes to the origin
        status, headers, size, growth = grown_by(edge_process, path, {"Range": f"bytes={BIG - 1}-"})
        assert (status, size, headers["Content-Range"]) == (206, 1, f"bytes {BIG - 1}-{BIG - 1}/{BIG}")
        assert headers["X-Cache"] == "MISS"
        assert growth < LIMIT, f"edge memory grew by {growth / MB:.0f} MB for one byte"


def test_a_full_get_of_an_object_larger_than_the_cache_streams_through(edge_process) -> None:
    status, headers, size, growth = grown_by(edge_process, token_path("big", "cmaf/1080p/seg_001.m4s"))
    assert (status, size, headers["Content-Length"]) == (200, BIG, str(BIG))
    assert growth < LIMIT, f"edge memory grew by {growth / MB:.0f} MB passing {BIG // MB} MB through"


def test_a_cacheable_object_is_filled_and_served_without_holding_it_in_memory(edge_process) -> None:
    path = token_path("mid", "cmaf/1080p/seg_001.m4s")
    status, headers, size, growth = grown_by(edge_process, path)
    assert (status, headers["X-Cache"], size) == (200, "MISS", CACHEABLE)
    assert growth < LIMIT, f"edge memory grew by {growth / MB:.0f} MB filling {CACHEABLE // MB} MB"
    status, headers, size, _ = grown_by(edge_process, path, {"Range": "bytes=10-19"})
    assert (status, headers["X-Cache"], size) == (206, "HIT", 10)
    assert [p.stat().st_size for p in edge_process.cache.iterdir() if p.is_file()] == [CACHEABLE]
