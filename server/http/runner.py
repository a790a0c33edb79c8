"""The waitress runner: binds loopback (port 0 = any free port), reports the real port, stops cleanly."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import sys
import threading
from typing import Any

from waitress.server import BaseWSGIServer, create_server

from server import config
from server.errors import InvalidRequest
from server.http.upload_channel import BodyLimits, channel_class, remove_stale_parts

log = logging.getLogger(__name__)

RECV_BYTES = 64 * 1024  # per socket read; waitress' 8 KiB halved upload speed (bench/upload_disk.py)
# Seconds the waitress loop waits in select(). Waitress reads this setting as an int, so the 0.2
# this used to say became 0: a select() that never waited kept a core busy while the server idled.
LOOP_TIMEOUT_S = 1


def check_loopback(host: str) -> str:
    """Refuse to bind anything but a loopback address: the server has no authentication."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise InvalidRequest(f"Refusing to bind {host!r}: the server only listens on loopback.",
                             hint="Use 127.0.0.1 (the default) and reach it through an SSH tunnel.")
    return host


def _body_limit() -> int:
    """Waitress' own last-resort bound; `BodyLimits` refuses bodies by route well before it."""
    return (int(config.get("upload_limit_mb")) + 1) * 1024 * 1024


def body_limits(app: Any) -> BodyLimits | None:
    """Where our Flask app's uploads go and its upload and API body limits (None: not our app)."""
    from server.http.context import EXTENSION

    services = getattr(app, "extensions", {}).get(EXTENSION)
    if services is None:
        return None
    uploads = services.data.uploads if "uploads" in app.blueprints else None
    return BodyLimits(uploads, upload_limit=lambda: int(app.config["UPLOAD_LIMIT_BYTES"]),
                      api_limit=lambda: int(app.config["MAX_CONTENT_LENGTH"] or sys.maxsize),
                      refuses=lambda method, path, headers: _guard_refuses(app, method, path, headers))


def _guard_refuses(app: Any, method: str, path: str, headers: dict[str, str]) -> bool:
    """Whether the app's request guard will refuse this request on its headers alone."""
    from server.http.guard import check_request

    with app.test_request_context(path, method=method, headers=headers):
        return check_request() is not None


def _use_body_channel(sockets: dict[int, Any], limits: BodyLimits | None) -> None:
    """Plug our channel into every listener waitress made (one, or one per address of a name)."""
    if limits is None:
        return
    if limits.uploads is not None:
        remove_stale_parts(limits.uploads)
    bound = channel_class(limits)
    for dispatcher in list(sockets.values()):
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = bound


class HttpServer:
    """A WSGI app on waitress in a background thread; `url` is valid once constructed."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 16,
                 on_stop: threading.Event | None = None) -> None:
        self._map: dict[int, Any] = {}  # every socket waitress' loop watches: listeners and connections
        self._server: Any = create_server(app, map=self._map, host=check_loopback(host), port=port,
                                          threads=threads, ident="miniflix", channel_timeout=30,
                                          asyncore_loop_timeout=LOOP_TIMEOUT_S,
                                          clear_untrusted_proxy_headers=True,
                                          recv_bytes=RECV_BYTES, max_request_body_size=_body_limit())
        _use_body_channel(self._map, body_limits(app))
        self._stopping = on_stop or threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"http:{self.port}", daemon=True)

    @property
    def host(self) -> str:
        return str(self._server.effective_host)

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def _run(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the listener closed under the loop in stop()
            self._server.run()

    def stop(self) -> None:
        """Signal streams to end, close every connection and the listener, join the worker threads."""
        self._stopping.set()
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        server = self._server
        for channel in list(self._map.values()):  # open connections, e.g. event streams
            if not isinstance(channel, BaseWSGIServer) and channel is not server.trigger:
                getattr(channel, "close_now", channel.handle_close)()
        if self._thread.is_alive():
            # Closed by the loop's own thread, which then finds its map empty and returns at once
            # (a close from here would leave it in select() for up to LOOP_TIMEOUT_S).
            server.trigger.pull_trigger(server.close)
            self._thread.join(timeout=5)
        if self._map:  # never started, or the loop ended before it ran the close
            server.close()

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
