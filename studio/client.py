"""The ONE client object: every request the studio makes to the server, asynchronous, on the GUI thread.

`QNetworkAccessManager` does the I/O without blocking the event loop, so no thread is needed. Results
come back through callbacks (per request) or Qt signals (events, connection state, errors). The SSE
stream is parsed here and its events are batched: views get one `events` signal per ~50 ms however
many events arrived, so a flood costs one repaint, not hundreds.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QByteArray, QFile, QIODevice, QObject, QTimer, QUrl, QUrlQuery, Signal
from PySide6.QtNetwork import QNetworkAccessManager, QNetworkReply, QNetworkRequest

OnOk = Callable[[Any], None]
OnError = Callable[[str], None]
REQUEST_TIMEOUT_MS = 30_000
TRACK_EDIT_TIMEOUT_MS = 120_000  # a track edit republishes the whole title (a copy and a check)
LAB_TIMEOUT_MS = 600_000    # a lab's replay of a long trace takes minutes, not seconds
BATCH_MS = 50
RECONNECT_MS = (500, 1000, 2000, 5000)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKEN_ENV = "MINIFLIX_API_TOKEN"  # the server's `api_token` setting; sent as a Bearer token when set


class ApiError(str):
    """A user-readable error text that also carries the HTTP status (0 = no answer) and error kind."""

    status: int
    kind: str

    def __new__(cls, text: str, status: int = 0, kind: str = "") -> ApiError:
        self = super().__new__(cls, text)
        self.status, self.kind = status, kind
        return self


def error_text(status: int, body: bytes, fallback: str) -> ApiError:
    """The server's `{"error","message","hint"}` as one sentence, or Qt's own text when there is no body."""
    try:
        data = json.loads(body)
        text = " ".join(p for p in (data.get("message", ""), data.get("hint", "")) if p)
        return ApiError(text or fallback, status, str(data.get("error", "")))
    except (ValueError, AttributeError):
        return ApiError(fallback, status)


def is_loopback(url: str) -> bool:
    """True when the server runs on this machine (it then shares our disk: register paths, skip copies)."""
    return (urlsplit(url).hostname or "") in LOOPBACK


def single_shot(parent: QObject, interval_ms: int, slot: Callable[[], None]) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(interval_ms)
    timer.timeout.connect(slot)
    return timer


def _progress(on_progress: Callable[[int, int], None], sent: int, total: int) -> None:
    """Qt ends an upload with (0, 0), which says nothing about the file; skip it."""
    if total > 0:
        on_progress(int(sent), int(total))


class SseParser:
    """Turns the bytes of a `text/event-stream` into event dicts, remembering the last `id` (the cursor)."""

    def __init__(self) -> None:
        self.buffer = b""
        self.last_id = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        out: list[dict[str, Any]] = []
        for raw in lines:
            event = self._line(raw.rstrip(b"\r").decode("utf-8", "replace"))
            if event is not None:
                out.append(event)
        return out

    def _line(self, line: str) -> dict[str, Any] | None:
        if not line:
            return self._dispatch()
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            self._data.append(value)
        elif field == "id":
            self.last_id = value
        return None

    def _dispatch(self) -> dict[str, Any] | None:
        data, self._data = "\n".join(self._data), []
        if not data:
            return None
        try:
            event = json.loads(data)
        except ValueError:
            return None
        return event if isinstance(event, dict) else None


class ApiClient(QObject):
    """Requests with callbacks, an SSE stream re-emitted as batched `events`, errors as status text."""

    events = Signal(list)
    connection_changed = Signal(bool, str)
    error = Signal(str)

    def __init__(self, base_url: str, parent: QObject | None = None, token: str | None = None) -> None:
        super().__init__(parent)
        self.base_url = base_url.rstrip("/")
        self.token = os.environ.get(TOKEN_ENV, "") if token is None else token
        self.nam = QNetworkAccessManager(self)
        self._pending: list[dict[str, Any]] = []
        self._flush = single_shot(self, BATCH_MS, self._emit_batch)
        self._reconnect = single_shot(self, RECONNECT_MS[0], self._open_stream)
        self._stream: QNetworkReply | None = None
        self._topics: tuple[str, ...] = ()
        self._parser = SseParser()
        self._failures = 0
        self._connected = False
        self._replies: set[QNetworkReply] = set()

    @property
    def is_local(self) -> bool:
        return is_loopback(self.base_url)

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}/{path.lstrip('/')}"

    def qurl(self, path: str, params: dict[str, Any] | None = None) -> QUrl:
        """The URL with `params` as a query; list values repeat the key (facet filters)."""
        url = QUrl(self.url(path))
        if params:
            query = QUrlQuery(url)
            for key, value in params.items():
                for item in value if isinstance(value, list | tuple) else [value]:
                    if item is not None:
                        query.addQueryItem(key, str(item))
            url.setQuery(query)
        return url

    # --- requests -----------------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None, on_ok: OnOk | None = None,
            on_error: OnError | None = None) -> QNetworkReply:
        return self._send(b"GET", self.qurl(path, params), None, on_ok, on_error)

    def fetch(self, path: str, on_ok: Callable[[bytes], None] | None = None,
              on_error: OnError | None = None) -> QNetworkReply:
        """GET raw bytes (posters, sprites): `on_ok` gets the body undecoded."""
        return self._send(b"GET", self.qurl(path), None, on_ok, on_error, raw=True)

    def post(self, path: str, body: dict[str, Any] | None = None, on_ok: OnOk | None = None,
             on_error: OnError | None = None, *, timeout_ms: int = REQUEST_TIMEOUT_MS) -> QNetworkReply:
        """POST JSON; `timeout_ms` for the few requests the server answers only after real work."""
        return self._send(b"POST", self.qurl(path), body if body is not None else {}, on_ok, on_error,
                          timeout_ms=timeout_ms)

    def lab_replay(self, params: dict[str, Any], on_ok: OnOk | None = None,
                   on_error: OnError | None = None) -> QNetworkReply:
        """The CDN what-if sweep (`GET /api/lab/replay`): long work on the server, so a long timeout."""
        return self._send(b"GET", self.qurl("/api/lab/replay", params), None, on_ok, on_error,
                          timeout_ms=LAB_TIMEOUT_MS)

    def lab_abr(self, params: dict[str, Any], on_ok: OnOk | None = None,
                on_error: OnError | None = None) -> QNetworkReply:
        """The ABR lab (`GET /api/lab/abr`): simulations on the server, so a long timeout."""
        return self._send(b"GET", self.qurl("/api/lab/abr", params), None, on_ok, on_error,
                          timeout_ms=LAB_TIMEOUT_MS)

    def lab_cost(self, params: dict[str, Any], on_ok: OnOk | None = None,
                 on_error: OnError | None = None) -> QNetworkReply:
        """The cost lab (`GET /api/lab/cost`): a what-if replays the edges' log, so a long timeout."""
        return self._send(b"GET", self.qurl("/api/lab/cost", params), None, on_ok, on_error,
                          timeout_ms=LAB_TIMEOUT_MS)

    # --- a title's tracks (each change republishes the title on the server: seconds, not ms) ---------

    def title_tracks(self, video_id: str, on_ok: OnOk | None = None,
                     on_error: OnError | None = None) -> QNetworkReply:
        """`GET /api/titles/<id>/tracks`: its audio renditions and text tracks."""
        return self.get(f"/api/titles/{video_id}/tracks", on_ok=on_ok, on_error=on_error)

    def add_subtitles(self, video_id: str, body: dict[str, Any], on_ok: OnOk | None = None,
                      on_error: OnError | None = None) -> QNetworkReply:
        """Add a text track: `body` as `subtitle_body` makes it, or a removal's `undo`."""
        return self._send(b"POST", self.qurl(f"/api/titles/{video_id}/tracks/subtitles"), body, on_ok,
                          on_error, timeout_ms=TRACK_EDIT_TIMEOUT_MS)

    def change_subtitles(self, video_id: str, track_id: str, changes: dict[str, Any],
                         on_ok: OnOk | None = None, on_error: OnError | None = None) -> QNetworkReply:
        """Rename a text track (`name`) and/or make it the default (`default`)."""
        return self._send(b"PATCH", self.qurl(f"/api/titles/{video_id}/tracks/subtitles/{track_id}"),
                          changes, on_ok, on_error, timeout_ms=TRACK_EDIT_TIMEOUT_MS)

    def change_audio(self, video_id: str, track_id: str, changes: dict[str, Any],
                     on_ok: OnOk | None = None, on_error: OnError | None = None) -> QNetworkReply:
        """Rename an audio rendition (`name`) and/or make it the default (`default: true`)."""
        return self._send(b"PATCH", self.qurl(f"/api/titles/{video_id}/tracks/audio/{track_id}"),
                          changes, on_ok, on_error, timeout_ms=TRACK_EDIT_TIMEOUT_MS)

    def remove_subtitles(self, video_id: str, track_id: str, on_ok: OnOk | None = None,
                         on_error: OnError | None = None) -> QNetworkReply:
        """Remove a text track; the answer's `undo` adds it back."""
        return self._send(b"DELETE", self.qurl(f"/api/titles/{video_id}/tracks/subtitles/{track_id}"),
                          None, on_ok, on_error, timeout_ms=TRACK_EDIT_TIMEOUT_MS)

    def patch(self, path: str, body: dict[str, Any] | None = None, on_ok: OnOk | None = None,
              on_error: OnError | None = None) -> QNetworkReply:
        return self._send(b"PATCH", self.qurl(path), body or {}, on_ok, on_error)

    def delete(self, path: str, on_ok: OnOk | None = None, on_error: OnError | None = None) -> QNetworkReply:
        return self._send(b"DELETE", self.qurl(path), None, on_ok, on_error)

    @staticmethod
    def subtitle_body(path: Path, **fields: Any) -> dict[str, Any]:
        """The JSON body that adds the subtitle file at `path` (read here: a few hundred KB at most)."""
        content = base64.b64encode(Path(path).read_bytes()).decode()
        return {"file_name": Path(path).name, "content_base64": content,
                **{k: v for k, v in fields.items() if v not in (None, "")}}

    def upload(self, path: Path, on_progress: Callable[[int, int], None] | None = None,
               on_ok: OnOk | None = None, on_error: OnError | None = None) -> QNetworkReply:
        """Stream the file as the request body (`POST /api/uploads?name=…`), never loading it whole."""
        source = QFile(str(path))
        if not source.open(QIODevice.OpenModeFlag.ReadOnly):
            raise OSError(f"{path}: cannot be read ({source.errorString()}).")
        request = self._request(self.qurl("/api/uploads", {"name": Path(path).name}))
        request.setHeader(QNetworkRequest.KnownHeaders.ContentTypeHeader, "application/octet-stream")
        request.setHeader(QNetworkRequest.KnownHeaders.ContentLengthHeader, source.size())
        reply = self.nam.post(request, source)
        source.setParent(reply)
        if on_progress is not None:
            reply.uploadProgress.connect(lambda sent, total: _progress(on_progress, sent, total))
        self._track(reply, on_ok, on_error, raw=False)
        return reply

    def _send(self, verb: bytes, url: QUrl, body: dict[str, Any] | None, on_ok: Callable[[Any], None] | None,
              on_error: OnError | None, raw: bool = False,
              timeout_ms: int = REQUEST_TIMEOUT_MS) -> QNetworkReply:
        request = self._request(url)
        request.setTransferTimeout(timeout_ms)
        payload = QByteArray()
        if body is not None:
            request.setHeader(QNetworkRequest.KnownHeaders.ContentTypeHeader, "application/json")
            payload = QByteArray(json.dumps(body).encode())
        reply = self.nam.sendCustomRequest(request, QByteArray(verb), payload)
        self._track(reply, on_ok, on_error, raw)
        return reply

    def _request(self, url: QUrl) -> QNetworkRequest:
        """A request to `url`, carrying the API token (only to this client's own server)."""
        request = QNetworkRequest(url)
        if self.token and url.toString().startswith(self.base_url + "/"):
            request.setRawHeader(b"Authorization", f"Bearer {self.token}".encode())
        return request

    def _track(self, reply: QNetworkReply, on_ok: Callable[[Any], None] | None, on_error: OnError | None,
               raw: bool) -> None:
        self._replies.add(reply)
        reply.finished.connect(lambda: self._finished(reply, on_ok, on_error, raw))

    def _finished(self, reply: QNetworkReply, on_ok: Callable[[Any], None] | None,
                  on_error: OnError | None, raw: bool) -> None:
        self._replies.discard(reply)
        reply.deleteLater()
        status = int(reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute) or 0)
        body = bytes(reply.readAll().data()) if reply.isOpen() else b""
        if reply.error() != QNetworkReply.NetworkError.NoError or not 200 <= status < 300:
            return self._failed(reply, status, body, on_error)
        if on_ok is not None:
            try:
                on_ok(body if raw else (json.loads(body) if body else None))
            except ValueError:
                self._failed(reply, status, b"", on_error)

    def _failed(self, reply: QNetworkReply, status: int, body: bytes, on_error: OnError | None) -> None:
        if reply.error() == QNetworkReply.NetworkError.OperationCanceledError and not status:
            text = ApiError(f"{reply.url().path()}: cancelled or timed out.")
        elif status:
            text = error_text(status, body, f"{reply.url().path()}: HTTP {status}.")
        else:
            text = ApiError(f"Cannot reach the server at {self.base_url}: {reply.errorString()}.")
        (on_error or self.error.emit)(text)

    def close(self) -> None:
        """Abort every request in flight and the event stream (window closing, test teardown)."""
        self.stop_events()
        for reply in list(self._replies):
            reply.abort()

    # --- server-sent events ------------------------------------------------------------------------

    def start_events(self, topics: Sequence[str] = ()) -> None:
        """Follow `/api/events/stream`; reconnects by itself, resuming after the last event seen."""
        self._topics = tuple(topics)
        self._failures = 0
        self._open_stream()

    def stop_events(self) -> None:
        self._reconnect.stop()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
            stream.deleteLater()
        self._set_connected(False, "event stream stopped")

    def _open_stream(self) -> None:
        params = {"topics": ",".join(self._topics)} if self._topics else None
        request = self._request(self.qurl("/api/events/stream", params))
        request.setRawHeader(b"Accept", b"text/event-stream")
        if self._parser.last_id:
            request.setRawHeader(b"Last-Event-ID", self._parser.last_id.encode())
        self._parser.buffer = b""
        stream = self._stream = self.nam.get(request)
        stream.readyRead.connect(lambda: self._stream_data(stream))
        stream.finished.connect(lambda: self._stream_ended(stream))

    def _stream_data(self, stream: QNetworkReply) -> None:
        if stream is not self._stream:
            return
        self._failures = 0
        self._set_connected(True, self.base_url)
        self._pending += self._parser.feed(bytes(stream.readAll().data()))
        if self._pending and not self._flush.isActive():
            self._flush.start()

    def _stream_ended(self, stream: QNetworkReply) -> None:
        if stream is not self._stream:
            return
        reason = stream.errorString() if stream.error() != QNetworkReply.NetworkError.NoError else "ended"
        stream.deleteLater()
        self._stream = None
        self._set_connected(False, f"event stream {reason}; reconnecting")
        self._reconnect.start(RECONNECT_MS[min(self._failures, len(RECONNECT_MS) - 1)])
        self._failures += 1

    def _set_connected(self, connected: bool, text: str) -> None:
        if connected != self._connected:
            self._connected = connected
            self.connection_changed.emit(connected, text)

    def _emit_batch(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            self.events.emit(batch)
