"""Analytics: the list of named queries and each one's rows (`GET /api/analytics/<name>?param=…`)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from server.http.context import need

bp = Blueprint("analytics", __name__, url_prefix="/api/analytics")


@bp.get("")
def list_queries() -> Response:
    from server.analytics.queries import QUERIES

    return jsonify({"queries": [q.describe() for q in QUERIES.values()]})


@bp.get("/<name>")
def run_query(name: str) -> Response:
    """Query parameters are passed through; the query's own registry checks names and types."""
    rows = need("analytics").query(name, **request.args.to_dict())
    return jsonify({"name": name, "rows": rows})
