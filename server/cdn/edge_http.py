"""The edge's HTTP face: a stdlib ThreadingHTTPServer whose handler checks the token first, then
serves from the cache with Range, `X-Cache`, `Age`, CORS and the simulated link (RTT + bandwidth)."""

from __future__ import annotations

import contextlib
import json
import logging
import posixpath
import re
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from server.cdn.cache import Lookup
from server.cdn.httpio import ByteRange, RangeNotSatisfiable, parse_range, transfer_delay_s
from server.cdn.origin import OriginStream
from server.cdn.tokens import Signer
from server.errors import Forbidden, MiniflixError, NotFound
from server.storage.blobstore import safe_key
from server.storage.mime import content_type

if TYPE_CHECKING:
    from server.cdn.edge import EdgeNode

CHUNK = 64 * 1024
PACE_BYTES = 4 * 1024        # a throttled body goes out in pieces this big, each on its own deadline
PACE_SLACK_S = 0.05
MAX_PATH_CHARS = 2048        # signed links are ~100 characters; anything far longer is not one
MAX_PART_BYTES = 255         # the longest file name a filesystem takes
PLAYER_ROOT_FILES = frozenset({"master.m3u8", "manifest.mpd"})
PLAYER_FOLDERS = frozenset({"cmaf", "subs", "thumbs"})
PLAYER_TYPES = frozenset({".m3u8", ".mpd", ".mp4", ".m4s", ".m4a", ".m4v", ".vtt", ".jpg", ".jpeg", ".png"})
SESSION = re.compile(r"[\w.,:-]{1,128}")   # the request router's `?session=` tag (see server/http/route.py)
log = logging.getLogger(__name__)


class UriTooLong(MiniflixError):
    """A URL (or one part of it) longer than any link the steering service hands out."""

    status = 414


def parse_edge_path(raw_path: str, signer: Signer, now: float) -> tuple[str, str]:
    """`/t/<token>/videos/<id>/<rest>` -> (object key, video id), token verified before anything else;
    only what a player fetches is served (never `source/`, the original upload)."""
    if len(raw_path) > MAX_PATH_CHARS:
        raise UriTooLong(f"The URL is {len(raw_path)} characters; edge links are under {MAX_PATH_CHARS}.",
                         hint="ask the steering service for a link")
    parts = raw_path.split("?", 1)[0].split("/")
    if len(parts) < 4 or parts[0] != "" or parts[1] != "t":
        raise NotFound("Edge URLs look like /t/<token>/videos/<id>/<file>.",
                       hint="ask the steering service for a link")
    token, key = parts[2], urllib.parse.unquote("/".join(parts[3:]))
    key_parts = key.split("/")
    if len(key_parts) < 3 or key_parts[0] != "videos":
        raise Forbidden("Refused object: edges serve only titles (videos/<id>/…).")
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_PART_BYTES for part in key_parts):
        raise UriTooLong(f"A part of the URL is longer than {MAX_PART_BYTES} bytes.")
    video_id = key_parts[1]
    signer.verify(token, video_id, now)
    key = safe_key(key)
    if key.split("/")[1] != video_id:
        raise Forbidden("Refused object: it is not part of the title the link was signed for.")
    if not is_player_object(key.split("/", 2)[2] if key.count("/") >= 2 else ""):
        raise Forbidden("Refused object: edges serve only what a player fetches "
                        "(playlists, manifests, segments, thumbnails).")
    return key, video_id


def viewer_session(raw_path: str) -> str:
    """The `session` tag a request router added to the link ("" when absent or malformed): the
    edge's hit/miss events carry it so a player can tell its own requests from anyone else's."""
    query = urllib.parse.parse_qs(raw_path.partition("?")[2])
    value = (query.get("session") or [""])[0]
    return value if SESSION.fullmatch(value) else ""


def is_player_object(rest: str) -> bool:
    """Whether `rest` (the part after `videos/<id>/`) is a playback file: the master playlist, the MPD,
    or a playlist/segment/thumbnail under `cmaf/` or `thumbs/`; the original upload never is."""
    if rest in PLAYER_ROOT_FILES:
        return True
    folder, _, name = rest.partition("/")
    return folder in PLAYER_FOLDERS and bool(name) and posixpath.splitext(name)[1].lower() in PLAYER_TYPES


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
        """Serve one request; any failure before the body gets a small JSON error, never a hang-up."""
        try:
            self._serve(body)
        except ConnectionError:                  # the client hung up (a probe that gave up): no one to tell
            self.close_connection = True
        except Exception as exc:
            if self._body_started:
                self.close_connection = True     # mid-body: the short body tells the client
                if not isinstance(exc, OSError):
                    log.warning("edge %s cut a response to %.200s: %s", self.server.node.name, self.path,
                                exc)
                return
            self._send_error(exc, body)

    def _serve(self, body: bool) -> None:
        node = self.server.node
        if self.path.split("?", 1)[0] == "/health":
            self._send_json(200, node.health(), body)
            return
        arrived = node.clock.now()
        key, video_id = parse_edge_path(self.path, node.signer, arrived)
        with node.serving(), node.lookup(key, video_id, viewer_session(self.path)) as lookup:
            self._send_object(lookup, video_id, body, arrived)

    def _send_error(self, exc: Exception, body: bool) -> None:
        """The error's own status and message; anything unexpected is logged and answered without
        details (an OSError names server paths)."""
        if not isinstance(exc, MiniflixError):
            log.error("edge %s failed on %.200s", self.server.node.name, self.path, exc_info=exc)
            exc = MiniflixError(f"Edge {self.server.node.name} could not serve this object.",
                                hint="try again, or ask the steering service for another edge")
        self._send_json(exc.status, exc.to_dict(), body, exc)

    def _send_object(self, lookup: Lookup, video_id: str, body: bool, arrived: float) -> None:
        node = self.server.node
        if lookup.etag and f'"{lookup.etag}"' in self.headers.get("If-None-Match", "").split(", "):
            self._send_not_modified(lookup)
            node.record(lookup, video_id, 0, session=viewer_session(self.path), arrived=arrived)
            return
        rng = parse_range(self.headers.get("Range"), lookup.size)
        span = rng or ByteRange(0, lookup.size - 1)
        length = span.length if lookup.size else 0
        with _body_stream(lookup, span.start, length if body else 0) as stream:
            self._send_object_headers(lookup, rng, length, body)
            sent, aborted = 0, True
            try:
                sent = self._write_body(lookup, stream, span.start, length) if body and length else 0
                aborted = False
            finally:                    # a client that hangs up mid-body still counts as a request
                node.record(lookup, video_id, sent, aborted=aborted, session=viewer_session(self.path),
                            arrived=arrived)

    def _send_object_headers(self, lookup: Lookup, rng: ByteRange | None, length: int, body: bool) -> None:
        node = self.server.node
        rtt = node.spec.rtt_ms
        delay_s = transfer_delay_s(length if body else 0, rtt, node.bandwidth_mbps)
        self.send_response(206 if rng else 200)
        self._object_headers(lookup, length, delay_s)
        if rng:
            self.send_header("Content-Range", rng.content_range(lookup.size))
        node.clock.sleep(rtt / 1000.0)
        self.end_headers()
        self._body_started = True

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

    def _write_body(self, lookup: Lookup, stream: OriginStream | None, start: int, length: int) -> int:
        """Send `length` bytes from `start`: sendfile from a cached file when unthrottled, else paced
        pieces (from the file, or from the origin for a pass-through)."""
        bandwidth = self.server.node.bandwidth_mbps
        if stream is None and lookup.file is not None and not bandwidth:
            return self.connection.sendfile(lookup.file, start, length)
        sent = 0
        for piece in _paced(_chunks(lookup, stream, start, length), self.server.node):
            self.wfile.write(piece)
            sent += len(piece)
        return sent

    def _send_json(self, status: int, doc: dict[str, Any], body: bool,
                   exc: MiniflixError | None = None) -> None:
        payload = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        if isinstance(exc, RangeNotSatisfiable):
            self.send_header("Content-Range", f"bytes */{exc.size}")
        self._cors()
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "X-Cache, X-Edge, Age, Content-Range")


@contextlib.contextmanager
def _body_stream(lookup: Lookup, start: int, length: int) -> Iterator[OriginStream | None]:
    """For a pass-through, the asked bytes opened at the origin before any header goes out (so an
    origin failure still gets a proper error response); None when the body comes from a file."""
    if lookup.source is None or not length:
        yield None
        return
    with lookup.source(start, length) as stream:
        yield stream


def _paced(chunks: Iterator[bytes], node: EdgeNode) -> Iterator[bytes]:
    """The body in PACE_BYTES pieces, each after its time on the link at the edge's cap (read per
    piece, so a cap changed mid-body applies at once); unthrottled chunks pass as they are. The
    first byte leaves after one small piece, not a whole chunk, and a real sleep's overshoot is paid
    back from the next pieces (up to PACE_SLACK_S), so many short sleeps do not slow the link down."""
    debt = 0.0
    for chunk in chunks:
        step = PACE_BYTES if node.bandwidth_mbps else len(chunk)
        for at in range(0, len(chunk), step):
            piece = chunk[at:at + step]
            if node.bandwidth_mbps:
                nap = transfer_delay_s(len(piece), 0, node.bandwidth_mbps) - debt
                began = node.clock.now()
                node.clock.sleep(nap)
                late = node.clock.now() - began - max(nap, 0.0)
                debt = min(max(-nap, 0.0) + (late if late > 1e-5 else 0.0), PACE_SLACK_S)
            yield piece


def _chunks(lookup: Lookup, stream: OriginStream | None, start: int, length: int) -> Iterator[bytes]:
    if stream is not None:
        while chunk := stream.read(CHUNK):
            yield chunk
        return
    assert lookup.file is not None
    lookup.file.seek(start)
    remaining = length
    while remaining > 0 and (chunk := lookup.file.read(min(CHUNK, remaining))):
        remaining -= len(chunk)
        yield chunk
