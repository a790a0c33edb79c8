"""`miniflix serve [--data-dir] [--port] [--host]`: the HTTP server until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from typing import TYPE_CHECKING

from server import config
from server.cli import add_data_dir
from server.errors import MiniflixError
from server.registry import BadSetting

if TYPE_CHECKING:
    from server.http.services import Services


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("serve", help="run the HTTP server (API, origin, edges, steering, SSE)")
    add_data_dir(p)
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: 0 = any free port)")
    p.add_argument("--host", default=None, help="loopback address to bind (default: $MINIFLIX_HOST, "
                   "else 127.0.0.1)")
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Build and start every service, serve until a signal, then stop everything in order."""
    from server.engine import Engine
    from server.http.runner import check_loopback
    from server.http.services import build_services

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        host = check_loopback(args.host or config.get("host"))
        services = build_services(Engine.open(args.data_dir)).start()
    except BadSetting:  # main.py reports it with exit code 2
        raise
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        _serve(services, host, args.port)
    finally:
        services.stop()
    print("Stopped.", flush=True)
    return 0


def _serve(services: Services, host: str, port: int) -> None:
    """Listen until SIGINT/SIGTERM; the printed URL carries the real port (port 0 = any free one)."""
    from server.http.app import create_app
    from server.http.runner import HttpServer
    from server.http.signals import stop_on_signals

    done = threading.Event()
    server = HttpServer(create_app(services), host=host, port=port, on_stop=services.stopping)
    stop_on_signals(done)
    server.start()
    print(f"MiniFlix server listening on {server.url} (data: {services.data.root})", flush=True)
    _print_edges(services)
    done.wait()
    print("Stopping…", flush=True)
    server.stop()


def _print_edges(services: Services) -> None:
    for edge in services.cdn.health() if services.cdn is not None else []:
        print(f"  edge {edge['name']:<8} {edge['region']:<13} {edge['url']}", flush=True)
