"""How blueprints reach the services of the running app (one `Services` per app)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import current_app, request

from server.errors import InvalidRequest, ToolMissing

if TYPE_CHECKING:
    from server.http.services import Services

EXTENSION = "miniflix"


def services() -> Services:
    """The `Services` the app was created with."""
    return current_app.extensions[EXTENSION]


def need(name: str) -> Any:
    """A service by attribute name, or a 503 naming what is not configured in this server."""
    value = getattr(services(), name, None)
    if value is None:
        raise ToolMissing(f"The {name} service is not running in this server.",
                          hint="Start the server with `python main.py serve` on a data dir.")
    return value


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 saying what was wrong with it."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.",
                             hint="Send Content-Type: application/json with an object body.")
    return body


def arg_int(name: str, default: int, lo: int = 0, hi: int = 1_000_000) -> int:
    """An integer query argument within [lo, hi], or a 400."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"Query argument {name}={raw!r} is not an integer.") from None
    if not lo <= value <= hi:
        raise InvalidRequest(f"Query argument {name}={value} is outside {lo}..{hi}.")
    return value
