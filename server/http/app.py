"""The Flask app factory: one blueprint per service, one error handler, no global state."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify

from server import __version__, config
from server.http import errors, guard
from server.http.context import EXTENSION

if TYPE_CHECKING:
    from server.http.services import Services

JSON_BODY_LIMIT = 1024 * 1024  # API bodies; uploads raise it to `upload_limit_mb` for their request
# One module per service, each exporting `bp`; registered in this order.
BLUEPRINTS = ("catalog", "jobs", "samples", "uploads", "events", "search", "analytics", "origin", "edges",
              "steering", "route", "telemetry", "web", "lab", "demo", "subtitles")

# The services each blueprint needs; without them its routes are left out (no stubs).
REQUIRES: dict[str, tuple[str, ...]] = {
    "catalog": ("catalog", "store"), "jobs": ("ingest",), "samples": ("ingest",), "uploads": ("ingest",),
    "events": ("events",), "search": ("search",), "analytics": ("analytics",), "origin": ("store",),
    "edges": ("cdn",), "steering": ("steering",), "telemetry": ("publisher",), "web": (),
    "route": ("steering", "store"), "demo": ("events", "analytics", "cdn", "catalog", "store"),
    "subtitles": ("catalog", "store"),
}


def create_app(services: Services, test_config: dict[str, Any] | None = None) -> Flask:
    """A WSGI app over `services`; `test_config` overrides Flask settings (e.g. limits in tests)."""
    app = Flask(__name__, static_folder=None)
    app.url_map.merge_slashes = False  # `//x` is a key to refuse, not a URL to redirect to
    app.config.update(MAX_CONTENT_LENGTH=JSON_BODY_LIMIT,
                      UPLOAD_LIMIT_BYTES=config.get("upload_limit_mb") * 1024 * 1024)
    app.config.update(test_config or {})
    app.extensions[EXTENSION] = services
    errors.init_app(app)
    guard.init_app(app)
    for name in BLUEPRINTS:
        if _wanted(services, name):
            app.register_blueprint(import_module(f"server.http.{name}").bp)
    app.add_url_rule("/api/health", "health", _health)
    return app


def _wanted(services: Services, name: str) -> bool:
    """A blueprint is served only when the service behind it exists in this build."""
    return all(getattr(services, need, None) is not None for need in REQUIRES.get(name, ()))


def _health() -> Response:
    """Which services run, and the limits a client should know before it sends (the upload size)."""
    from flask import current_app

    from server.http.context import services

    return jsonify({"ok": True, "version": __version__, "services": services().describe(),
                    "backends": services().backends,
                    "limits": {"upload_bytes": int(current_app.config["UPLOAD_LIMIT_BYTES"])}})
