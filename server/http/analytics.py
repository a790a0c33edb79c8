"""Analytics: the list of named queries and each one's rows (`GET /api/analytics/<name>?param=…`)."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response, jsonify, request

from server.errors import InvalidRequest
from server.http.context import need

bp = Blueprint("analytics", __name__, url_prefix="/api/analytics")

# Numeric parameters are checked here, before SQL sees them: whole numbers (limits, bucket widths)
# from 1, times (epoch seconds) from 0, both finite and bounded so DuckDB never overflows.
INT_RANGE = (1, 1_000_000_000)
FLOAT_RANGE = (0.0, 1e11)


@bp.get("")
def list_queries() -> Response:
    from server.analytics.queries import QUERIES

    return jsonify({"queries": [q.describe() for q in QUERIES.values()]})


@bp.get("/<name>")
def run_query(name: str) -> Response:
    """Query parameters are passed through; the query's own registry checks names and types."""
    rows = need("analytics").query(name, **query_args(name))
    return jsonify({"name": name, "rows": rows})


def query_args(name: str) -> dict[str, Any]:
    """The request's arguments, numbers parsed and range-checked by the type the query declares."""
    from server.analytics.queries import get

    types = {param.name: param.type for param in get(name).params}
    args: dict[str, Any] = request.args.to_dict()
    for key, raw in args.items():
        if types.get(key) in (int, float):
            args[key] = _number(key, raw, types[key])
    return args


def _number(key: str, raw: str, kind: type) -> int | float:
    lo, hi = INT_RANGE if kind is int else FLOAT_RANGE
    try:
        value = int(raw) if kind is int else float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and lo <= value <= hi):
        raise InvalidRequest(f"Parameter {key!r} must be {'a whole' if kind is int else 'a'} number "
                             f"from {lo:g} to {hi:g}, not {raw[:40]!r}.")
    return value
