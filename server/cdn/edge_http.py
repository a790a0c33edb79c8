"""The edge's HTTP face: a stdlib ThreadingHTTPServer whose handler checks the token first, then
serves from the cache with Range, `X-Cache`, `Age`, CORS and the simulated link (RTT + bandwidth)."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from server.cdn.cache import Lookup
from server.cdn.httpio import ByteRange, RangeNotSatisfiable, parse_range, transfer_delay_s
from server.cdn.tokens import Signer
from server.errors import Forbidden, MiniflixError, NotFound
from server.storage.blobstore import safe_key
from server.storage.mime import content_type

if TYPE_CHECKING:
    from server.cdn.edge import EdgeNode

CHUNK = 64 * 1024
log = logging.getLogger(__name__)


def parse_edge_path(raw_path: str, signer: Signer, now: float) -> tuple[str, str]:
    """`/t/<token>/videos/<id>/<rest>` -> (object key, video id), token verified before anything else."""
    parts = raw_path.split("?", 1)[0].split("/")
    if len(parts) < 4 or parts[0] != "" or parts[1] != "t":
        raise NotFound("Edge URLs look like /t/<token>/videos/<id>/<file>.",
                       hint="ask the steering service for a link")
    token, key = parts[2], urllib.parse.unquote("/".join(parts[3:]))
    key_parts = key.split("/")
    if len(key_parts) < 3 or key_parts[0] != "videos":
        raise Forbidden(f"Refused object {key!r}: edges serve only titles (videos/<id>/…).")
    video_id = key_parts[1]
    signer.verify(token, video_id, now)
    key = safe_key(key)
    if key.split("/")[1] != video_id:
        raise Forbidden(f"Refused object {key!r}: it is not part of title {video_id!r}.")
    return key, video_id


class EdgeServer(ThreadingHTTPServer):
    """Keeps track of open connections so `close_all` can cut keep-alive clients on a real stop."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], node: EdgeNode) -> None:
        self.node = node
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, EdgeHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None   # clients that hang up (or a stop cutting them) are not errors of the edge


class EdgeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MiniFlixEdge/1"
    disable_nagle_algorithm = True    # headers then sendfile: without it each small response waits on ACKs
    server: EdgeServer

    _body_started = False

    def do_GET(self) -> None:
        self._body_started = False
        self._handle(body=True)

    def do_HEAD(self) -> None:
        self._body_started = False
        self._handle(body=False)

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self._cors()
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Range")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _handle(self, body: bool) -> None:
        node = self.server.node
        try:
            if self.path.split("?", 1)[0] == "/health":
                self._send_json(200, node.health(), body)
                return
            key, video_id = parse_edge_path(self.path, node.signer, node.clock.now())
            with node.serving(), node.lookup(key, video_id) as lookup:
                self._send_object(lookup, video_id, body)
        except MiniflixError as exc:
            self._send_json(exc.status, exc.to_dict(), body, exc)
        except OSError as exc:
            if self._body_started:
                raise                       # the client went away mid-body: nothing left to tell it
            log.exception("edge %s failed on %s", node.name, self.path)
            error = MiniflixError(f"Edge {node.name} could not serve this object: {exc}")
            self._send_json(500, error.to_dict(), body, error)

    def _send_object(self, lookup: Lookup, video_id: str, body: bool) -> None:
        node = self.server.node
        if lookup.etag and f'"{lookup.etag}"' in self.headers.get("If-None-Match", "").split(", "):
            self._send_not_modified(lookup)
            node.record(lookup, video_id, 0)
            return
        rng = parse_range(self.headers.get("Range"), lookup.size)
        span = rng or ByteRange(0, lookup.size - 1)
        length = span.length if lookup.size else 0
        rtt, bandwidth = node.spec.rtt_ms, node.bandwidth_mbps
        self.send_response(206 if rng else 200)
        self._object_headers(lookup, length, transfer_delay_s(length if body else 0, rtt, bandwidth))
        if rng:
            self.send_header("Content-Range", rng.content_range(lookup.size))
        node.clock.sleep(rtt / 1000.0)
        self.end_headers()
        self._body_started = True
        sent, aborted = 0, True
        try:
            sent = self._write_body(lookup, span.start, length, bandwidth) if body and length else 0
            aborted = False
        finally:                    # a client that hangs up mid-body still counts as a request
            node.record(lookup, video_id, sent, aborted=aborted)

    def _send_not_modified(self, lookup: Lookup) -> None:
        """304 for a client whose copy has the current ETag (browsers revalidating playlists)."""
        node = self.server.node
        self.send_response(304)
        self._validator_headers(lookup)
        node.clock.sleep(node.spec.rtt_ms / 1000.0)
        self.end_headers()
        self._body_started = True

    def _validator_headers(self, lookup: Lookup) -> None:
        node = self.server.node
        self.send_header("ETag", f'"{lookup.etag}"')
        self.send_header("Age", str(int(lookup.age)))
        self.send_header("Cache-Control", f"public, max-age={int(node.spec.ttl_s)}")
        self.send_header("X-Cache", lookup.status)
        self.send_header("X-Edge", node.spec.name)
        self._cors()

    def _object_headers(self, lookup: Lookup, length: int, delay_s: float) -> None:
        self.send_header("Content-Type", content_type(lookup.key))
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self._validator_headers(lookup)
        self.send_header("X-Sim-Delay-Ms", f"{delay_s * 1000:.3f}")

    def _write_body(self, lookup: Lookup, start: int, length: int, bandwidth: float | None) -> int:
        """Send `length` bytes from `start`: sendfile when unthrottled, else paced 64 KiB chunks."""
        if lookup.file is not None and not bandwidth:
            return self.connection.sendfile(lookup.file, start, length)
        sent, clock = 0, self.server.node.clock
        for chunk in _chunks(lookup, start, length):
            if bandwidth:
                clock.sleep(transfer_delay_s(len(chunk), 0, bandwidth))
            self.wfile.write(chunk)
            sent += len(chunk)
        return sent

    def _send_json(self, status: int, doc: dict[str, Any], body: bool,
                   exc: MiniflixError | None = None) -> None:
        payload = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        if isinstance(exc, RangeNotSatisfiable):
            self.send_header("Content-Range", "bytes */*")
        self._cors()
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "X-Cache, X-Edge, Age, Content-Range")


def _chunks(lookup: Lookup, start: int, length: int) -> Iterator[bytes]:
    if lookup.data is not None:
        for offset in range(start, start + length, CHUNK):
            yield lookup.data[offset:min(offset + CHUNK, start + length)]
        return
    assert lookup.file is not None
    lookup.file.seek(start)
    remaining = length
    while remaining > 0 and (chunk := lookup.file.read(min(CHUNK, remaining))):
        remaining -= len(chunk)
        yield chunk
