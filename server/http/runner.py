"""The waitress runner: binds loopback (port 0 = any free port), reports the real port, stops cleanly."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
from typing import Any

from waitress.server import create_server

from server import config
from server.errors import InvalidRequest

log = logging.getLogger(__name__)


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
    """Waitress refuses bodies over this; uploads check the exact limit themselves while reading."""
    return (int(config.get("upload_limit_mb")) + 1) * 1024 * 1024


class HttpServer:
    """A WSGI app on waitress in a background thread; `url` is valid once constructed."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 16,
                 on_stop: threading.Event | None = None) -> None:
        self._server: Any = create_server(app, host=check_loopback(host), port=port, threads=threads,
                                          ident="miniflix", channel_timeout=30, asyncore_loop_timeout=0.2,
                                          clear_untrusted_proxy_headers=True,
                                          max_request_body_size=_body_limit())
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
        for channel in list(server._map.values()):  # open connections, e.g. event streams
            if channel not in (server, server.trigger):
                channel.handle_close()
        server.close()  # the listener and the trigger: the loop's map is empty, so run() returns
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
