"""How blueprints reach the services of the running app (one `Services` per app)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from flask import current_app, request

from server.errors import InvalidRequest, ToolMissing

if TYPE_CHECKING:
    from server.http.services import Services

EXTENSION = "miniflix"
MAX_DEPTH = 32  # API bodies are shallow; deep nesting only costs stack and time


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
    """The request's JSON object, or a 400 saying what was wrong with it.

    Stricter than `json.loads`: `NaN`/`Infinity` are refused (they are not JSON, and a value that
    holds one cannot be written back as JSON), and so is nesting deeper than `MAX_DEPTH`.
    """
    body = _parse(request.get_data(cache=True)) if request.is_json else None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.",
                             hint="Send Content-Type: application/json with an object body.")
    if depth(body) > MAX_DEPTH:
        raise InvalidRequest(f"The JSON body is nested deeper than {MAX_DEPTH} levels.")
    return body


def depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise InvalidRequest(f"The JSON body is nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise InvalidRequest(f"The request body is not valid JSON: {str(exc)[:200]}",
                             hint="Send Content-Type: application/json with an object body.") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # e.g. 1e400, which float() turns into inf
        raise ValueError(f"{text[:40]} is out of range for a number")
    return value


def arg_int(name: str, default: int, lo: int = 0, hi: int = 1_000_000) -> int:
    """An integer query argument within [lo, hi], or a 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"Query argument {name}={raw!r} is not an integer.") from None
    if not lo <= value <= hi:
        raise InvalidRequest(f"Query argument {name}={value} is outside {lo}..{hi}.")
    return value
