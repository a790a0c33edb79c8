"""The origin as nginx edges pull it: a small loopback HTTP listener over an `OriginClient`.

The engine's blob store is not HTTP, and the CDN runs without the main server in tools and tests, so
each nginx edge gets this listener to `proxy_pass` to. It is asked only on a cache miss or a
revalidation (Python per miss, never per hit): GET/HEAD of `videos/<id>/…` player objects with
Range, ETag and If-None-Match; `source/` and anything else is refused; an origin outage is a 502, so
nginx serves its stale copy (`proxy_cache_use_stale`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from server.cdn.edge_http import is_player_object
from server.cdn.httpio import ByteRange, RangeNotSatisfiable, parse_range
from server.cdn.origin import OriginClient, OriginError, OriginStream
from server.errors import MiniflixError, NotFound
from server.storage.blobstore import safe_key
from server.storage.mime import content_type

log = logging.getLogger(__name__)


class OriginListener(ThreadingHTTPServer):
    """Serves `origin` on 127.0.0.1:<free port> from a daemon thread until `close()`."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, origin: OriginClient) -> None:
        self.origin = origin
        super().__init__(("127.0.0.1", 0), OriginHandler)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="nginx-origin", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None     # nginx hanging up on a body it no longer needs is not an error


def object_key(path: str) -> str:
    """The store key of a request path; only player objects of a title (never `source/`)."""
    key = safe_key(urllib.parse.unquote(path.split("?", 1)[0]).lstrip("/"))
    parts = key.split("/", 2)
    if len(parts) < 3 or parts[0] != "videos" or not is_player_object(parts[2]):
        raise NotFound("Not a player object of a title.")
    return key


class OriginHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MiniFlixOrigin/1"
    server: OriginListener

    def do_GET(self) -> None:
        self._handle(body=True)

    def do_HEAD(self) -> None:
        self._handle(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _handle(self, body: bool) -> None:
        try:
            key = object_key(self.path)
            self._serve(key, body)
        except MiniflixError as exc:
            self._status(exc, body)
        except OSError:
            self.close_connection = True
        except Exception:
            log.exception("the nginx origin listener failed on %.200s", self.path)
            self._status(OriginError("The origin failed."), body)

    def _serve(self, key: str, body: bool) -> None:
        origin = self.server.origin
        asked = self.headers.get("If-None-Match", "")
        if asked and (etag := origin.etag(key)) and f'"{etag}"' in asked.split(", "):
            self._head(304, key, etag, None)
            self.end_headers()
            return
        stream = origin.open(key)      # nginx's cache fills never send a Range: one open, whole
        try:
            size = stream.info.size
            rng = parse_range(self.headers.get("Range"), size)
            if rng is not None:
                stream.close()
                stream = origin.open(key, rng.start, rng.length)
            self._send(stream, key, rng, size, body)
        finally:
            stream.close()

    def _send(self, stream: OriginStream, key: str, rng: ByteRange | None, size: int, body: bool) -> None:
        self._head(206 if rng else 200, key, stream.info.etag, stream.length)
        if rng:
            self.send_header("Content-Range", rng.content_range(size))
        self.end_headers()
        if body:
            while chunk := stream.read():
                self.wfile.write(chunk)

    def _head(self, status: int, key: str, etag: str, length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type(key))
        self.send_header("Accept-Ranges", "bytes")
        if etag:
            self.send_header("ETag", f'"{etag}"')
        if length is not None:
            self.send_header("Content-Length", str(length))

    def _status(self, exc: MiniflixError, body: bool) -> None:
        """A bodiless status: nginx only needs the code (404 passes through, 5xx means serve stale)."""
        status = 404 if isinstance(exc, NotFound) else exc.status
        with contextlib.suppress(OSError):
            self.send_response(status)
            if isinstance(exc, RangeNotSatisfiable):
                self.send_header("Content-Range", f"bytes */{exc.size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
