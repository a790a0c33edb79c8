"""Which program serves the edges (setting `edge_engine`): the Python edge, or one nginx process per
edge. A registry of two, imported lazily so the default never looks for nginx."""

from __future__ import annotations

import importlib
import os
import shutil
from typing import Any

from server import config
from server.registry import BadSetting

ENV = "MINIFLIX_EDGE_ENGINE"
# engine -> "module:class"; both classes take the same arguments (see server/cdn/cluster.py)
EDGE_ENGINES = {"python": "server.cdn.edge:EdgeNode", "nginx": "server.cdn.nginx_edge:NginxEdge"}


NGINX_ELSEWHERE = ("/usr/sbin/nginx",)     # Debian's, outside a normal user's PATH


def nginx_path() -> str | None:
    """The nginx binary: on PATH, else where Debian puts it; None when there is none."""
    found = shutil.which("nginx")
    return found or next((p for p in NGINX_ELSEWHERE if os.access(p, os.X_OK)), None)


def _edge_engine(raw: str) -> str:
    value = raw.strip().lower()
    if value not in EDGE_ENGINES:
        raise BadSetting(f"{ENV}={raw!r}: unknown edge engine; known: {', '.join(EDGE_ENGINES)}",
                         hint="use python (the default) or nginx (Debian's nginx on PATH)")
    if value == "nginx" and nginx_path() is None:
        raise BadSetting(f"{ENV}={raw!r}: nginx is not installed",
                         hint="install Debian's nginx-light (make setup does), or use the python edge")
    return value


config.register("edge_engine", "python", "What serves each edge of the topology: `python` (the built-in "
                "edge: eviction policies, miss classes, simulated RTT) or `nginx` (one nginx process per "
                "edge: proxy_cache, limit_rate, secure_link).", _edge_engine)


def edge_engine() -> str:
    """The configured engine; a bad value raises `BadSetting` naming the setting."""
    value: str = config.get("edge_engine")
    return value


def edge_class(engine: str) -> Any:
    """The edge class of `engine` (imported now)."""
    module, _, name = EDGE_ENGINES[engine].partition(":")
    return getattr(importlib.import_module(module), name)
