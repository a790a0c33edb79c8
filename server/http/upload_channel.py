"""Request bodies on waitress: uploads go straight into the uploads folder, too-large bodies are never read.

Waitress reads a whole body into a temp file before the app runs, so an upload used to take twice
its size on disk (waitress' temp file, then our copy) and a body over the limit was read before the
413. This channel changes only how bodies are received:

- a body declared (`Content-Length`) larger than its route allows, or an upload the request guard
  refuses on its headers alone (foreign Origin, wrong Host or type, no token), is not read at all:
  the app runs with an empty body and the declared length, answers its JSON 413 (or the guard's
  refusal), and the connection closes
  (after a short lingering read, so a client still sending gets to read the answer);
- `POST /api/uploads` bodies are written once into `<uploads>/<random>.part`, which the route
  renames into place (`ReceivedBody.claim`); a chunked body is counted while it arrives and
  refused at the limit;
- an upload that does not fit on the disk (declared length over the free space, or a write that
  fails) is refused the same way, and the app answers "out of disk space" (507);
- a body that is never claimed (refused, bad request, client gone, server stopping) is deleted
  when waitress closes the request; `remove_stale_parts` sweeps what a killed server left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.receiver import ChunkedReceiver, FixedStreamReceiver
from waitress.task import WSGITask

from server.diskspace import MB, disk_full, free_bytes, is_out_of_space
from server.errors import MiniflixError

log = logging.getLogger(__name__)

RECEIVED = "miniflix.received_body"  # environ key: the upload's `ReceivedBody`, set only by this server
BODY_ERROR = "miniflix.body_error"  # environ key: why an upload's body could not be kept (disk full…)
UPLOAD_PATH = "/api/uploads"
PART_SUFFIX = ".part"
STALE_AFTER_S = 300.0  # a live upload writes every few seconds (and waitress drops idle ones after 30 s)
# After a refusal the rest of the body is read and dropped, so a client that sends it all before
# reading (Qt, requests, urllib) still gets the 413: until it stops for LINGER_IDLE_S, at most LINGER_S.
LINGER_S = 30.0
LINGER_IDLE_S = 5.0
DRAIN_BYTES = 256 * 1024


@dataclass(frozen=True)
class BodyLimits:
    """Where uploads land and how large a body each route takes; read per request (tests change them)."""

    uploads: Path | None  # None: this server takes no uploads, so they get the API limit
    upload_limit: Callable[[], int]
    api_limit: Callable[[], int]
    # (method, path with query, header name -> value): whether the app will refuse the request
    # whatever its body (wrong Host, foreign Origin, no token, wrong type); its body is then not read.
    refuses: Callable[[str, str, dict[str, str]], bool] = lambda method, path, headers: False


class ReceivedBody:
    """An upload body as it arrives: written once into a `.part` file, deleted unless claimed.

    It is the buffer waitress' receivers append to, so it speaks their small protocol
    (`append`, `__len__`, `getfile`, `close`).
    """

    failure: OSError | None = None  # a write failed (disk full): the file is gone, the rest is counted

    def __init__(self, folder: Path) -> None:
        self.path = folder / f"{uuid.uuid4().hex}{PART_SUFFIX}"
        self._file: IO[bytes] = self.path.open("w+b", buffering=0)  # on disk as it arrives
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, data: bytes) -> None:
        self._size += len(data)
        if self.failure is not None:
            return
        try:
            view = memoryview(data)
            while view:  # an unbuffered write may take less than it was given
                view = view[self._file.write(view) or 0:]
        except OSError as exc:
            self.failure = exc
            self.close()  # give the space back at once

    def getfile(self) -> IO[bytes]:
        """The body from its first byte (`wsgi.input`), for routes that parse it (multipart)."""
        self._file.seek(0)
        return self._file

    def claim(self, target: Path) -> Path:
        """Move the whole body to `target` (same folder, so a rename, not a copy)."""
        self._file.close()
        os.replace(self.path, target)
        return target

    def close(self) -> None:
        """Called by waitress when the request is done; removes the file unless it was claimed."""
        self._file.close()
        self.path.unlink(missing_ok=True)


class BodyParser(HTTPRequestParser):
    """Waitress' request parser with a body limit per route and uploads received into the uploads folder."""

    limits: BodyLimits  # set on the per-server subclass made by `channel_class`
    content_length: int
    body_rcv: Any
    refused = False  # the body is not passed on: over the route's limit, or it could not be stored
    received_body: ReceivedBody | None = None
    body_error: MiniflixError | None = None  # why an upload could not be stored, for the app to answer
    cap = 0

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        upload = self._is_upload()
        self.cap = self.limits.upload_limit() if upload else self.limits.api_limit()
        too_large = not self.chunked and self.content_length > self.cap
        if too_large or (upload and self.limits.refuses(self.command, self._target(), self._header_names())):
            self._refuse()
        elif upload and self.body_rcv is not None:
            self._receive_upload()

    def _receive_upload(self) -> None:
        """Into a `.part` file in the uploads folder, if its disk has room for the declared length."""
        folder = cast(Path, self.limits.uploads)
        if not self.chunked and free_bytes(folder) < self.content_length:
            self.body_error = disk_full(folder, needed_mb=self.content_length / MB)
            self._refuse()
            return
        try:
            self.received_body = ReceivedBody(folder)
        except OSError as exc:  # no room even for an empty file, or the folder is gone
            self.body_error = storage_error(exc, folder)
            self._refuse()
            return
        self.body_rcv = (ChunkedReceiver(self.received_body) if self.chunked
                         else FixedStreamReceiver(self.content_length, self.received_body))

    def received(self, data: bytes) -> int:
        """Consume `data`; once refused, swallow the rest of it rather than parse it as a next request."""
        consumed: int = super().received(data)
        body = self.received_body
        if not self.refused and body is not None and body.failure is not None:
            self.body_error = storage_error(body.failure, body.path.parent)
            self._stop_reading()
        elif not self.refused and self.body_rcv is not None and len(self.body_rcv) > self.cap:
            self.headers["CONTENT_LENGTH"] = str(len(self.body_rcv))  # how the app knows it is too large
            self._stop_reading()
        return len(data) if self.refused else consumed

    def _target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")

    def _header_names(self) -> dict[str, str]:
        """Waitress' CGI-style header keys (`CONTENT_TYPE`) as HTTP names (`Content-Type`)."""
        return {key.replace("_", "-").title(): value for key, value in self.headers.items()}

    def _is_upload(self) -> bool:
        return self.command == "POST" and "/" + self.path.lstrip("/") == UPLOAD_PATH \
            and self.limits.uploads is not None

    def _refuse(self) -> None:
        """Answer without reading the body: the app sees its declared length and an empty stream."""
        self.refused = True
        self.body_rcv = None
        self.content_length = 0  # so waitress neither reads the body nor answers its own 413
        self.expect_continue = False  # a client that asked first never sends it

    def _stop_reading(self) -> None:
        """Refuse a body part-way: drop what came and hand the request to the app now."""
        self.close()
        self.received_body = None
        self._refuse()
        self.completed = True

    def close(self) -> None:
        super().close()
        if self.received_body is not None:
            self.received_body.close()


class BodyTask(WSGITask):
    """A WSGI task that hands the received upload to the app and closes after a refused body."""

    request: BodyParser
    channel: BodyChannel

    def execute(self) -> None:
        if self.request.refused:
            self.set_close_on_finish()  # the unread body is still on the wire
            self.channel.linger_on_close = True
        super().execute()

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        if self.request.received_body is not None:
            environ[RECEIVED] = self.request.received_body
        if self.request.body_error is not None:
            environ[BODY_ERROR] = self.request.body_error
        return environ


class BodyChannel(HTTPChannel):
    """A connection that parses with `BodyParser`, drops half-received bodies, lingers after a refusal."""

    task_class = BodyTask
    request: Any  # the BodyParser of a request still arriving
    linger_on_close = False
    linger_until: float | None = None  # set while draining a refused body
    linger_idle_until = 0.0
    closed = False

    def handle_close(self) -> None:
        """Close, but after a refused body first stop sending and read (and drop) what still comes.

        Closing a socket with unread data makes the kernel answer with a reset, which can destroy
        the 413 before the client reads it.
        """
        answered = not self.requests and not self.total_outbufs_len
        if self.linger_on_close and answered and self.linger_until is None and self._half_close():
            return
        self.close_now()

    def close_now(self) -> None:
        """Close at once, deleting the body of a request that was still arriving."""
        if self.closed:
            return
        self.closed = True
        super().handle_close()
        with self.requests_lock:
            if self.request is not None:
                self.request.close()
                self.request = None

    def cancel(self) -> None:
        """Pending requests are dropped at shutdown; their bodies go with them."""
        for request in list(self.requests):
            request.close()
        super().cancel()

    def readable(self) -> bool:
        return self.linger_until is not None or bool(super().readable())

    def writable(self) -> bool:
        if self.linger_until is not None:  # a client gone quiet is closed through handle_write
            now = time.monotonic()
            return now >= self.linger_until or now >= self.linger_idle_until
        return bool(super().writable())

    def handle_write(self) -> None:
        if self.linger_until is None:
            super().handle_write()
        else:
            self.close_now()

    def handle_read(self) -> None:
        if self.linger_until is None:
            super().handle_read()
            return
        with contextlib.suppress(OSError):
            if self.recv(DRAIN_BYTES) and time.monotonic() < self.linger_until:
                self.linger_idle_until = time.monotonic() + LINGER_IDLE_S
                return
        self.close_now()

    def _half_close(self) -> bool:
        """Send FIN (the response is complete) and keep the read side open to drain the client."""
        try:
            self.socket.shutdown(socket.SHUT_WR)
        except OSError:
            return False
        self.linger_until = time.monotonic() + LINGER_S
        self.linger_idle_until = time.monotonic() + LINGER_IDLE_S
        self.will_close = self.close_when_flushed = False
        self.last_activity = time.time()
        return True


def storage_error(exc: OSError, folder: Path) -> MiniflixError:
    """What to tell the client when an upload cannot be written: disk full, or a bare reason (no path)."""
    if is_out_of_space(exc):
        return disk_full(folder)
    log.error("cannot write an upload into %s: %s", folder, exc)
    return MiniflixError(f"The server could not store the upload: {exc.strerror or type(exc).__name__}.",
                         hint="See the server log.")


def channel_class(limits: BodyLimits) -> type[BodyChannel]:
    """A channel class bound to `limits` (waitress builds parsers from the class alone)."""
    parser = type("BoundBodyParser", (BodyParser,), {"limits": limits})
    return type("BoundBodyChannel", (BodyChannel,), {"parser_class": parser})


def remove_stale_parts(folder: Path, older_than_s: float = STALE_AFTER_S) -> list[str]:
    """Delete `*.part` files not written to for `older_than_s`: uploads a killed server left behind."""
    cutoff = time.time() - older_than_s
    removed = []
    for part in folder.glob(f"*{PART_SUFFIX}"):
        with contextlib.suppress(OSError):  # gone already, or in use on Windows
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed.append(part.name)
    if removed:
        log.info("removed %d unfinished upload(s) from %s", len(removed), folder)
    return removed
