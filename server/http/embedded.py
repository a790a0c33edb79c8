"""The server inside the studio's process: every service for a data dir on a loopback port.

`main.py` starts it and hands only the URL to the studio, which talks to it over HTTP like to a
remote server (the studio never imports engine internals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.paths import DataDir


@dataclass
class EmbeddedServer:
    """A running server; `stop()` ends the listener, then the services, newest first."""

    url: str
    services: Any
    http: Any

    def stop(self) -> None:
        self.http.stop()
        self.services.stop()


def start_embedded(data: DataDir, host: str = "127.0.0.1", port: int = 0) -> EmbeddedServer:
    from server.engine import Engine
    from server.http.app import create_app
    from server.http.runner import HttpServer
    from server.http.services import build_services

    services = build_services(Engine(data)).start()
    try:
        http = HttpServer(create_app(services), host=host, port=port, on_stop=services.stopping).start()
    except BaseException:
        services.stop()
        raise
    return EmbeddedServer(http.url, services, http)
