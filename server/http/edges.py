"""Edge administration: health, load and content of every edge; stop, start and throttle one."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response, jsonify

from server.errors import InvalidRequest
from server.http.context import json_body, need

bp = Blueprint("edges", __name__, url_prefix="/api/edges")

MIN_MBPS, MAX_MBPS = 0.05, 10_000.0  # 50 kbit/s (a 1 MB segment in under 3 min) to 10 Gbit/s


@bp.get("")
def list_edges() -> Response:
    cdn = need("cdn")
    specs = {spec.name: spec.to_dict() for spec in cdn.topology.edges}
    return jsonify({"edges": [{**specs.get(h["name"], {}), **h} for h in cdn.health()]})


@bp.get("/<name>")
def get_edge(name: str) -> Response:
    cdn = need("cdn")
    cdn.edge(name)  # 404 for an unknown name
    return jsonify(next(h for h in cdn.health() if h["name"] == name))


@bp.post("/<name>/stop")
def stop_edge(name: str) -> Response:
    """Stop the edge's listener for real: its clients get connection errors."""
    need("cdn").stop_edge(name)
    return get_edge(name)


@bp.post("/<name>/start")
def start_edge(name: str) -> Response:
    need("cdn").start_edge(name)
    return get_edge(name)


@bp.post("/<name>/throttle")
def throttle_edge(name: str) -> Response:
    """`{"mbps": 2.5}` caps the simulated link; `{"mbps": null}` removes the cap."""
    need("cdn").throttle(name, throttle_mbps(json_body()))
    return get_edge(name)


def throttle_mbps(body: dict[str, Any]) -> float | None:
    """The cap in `body`: a number within MIN_MBPS..MAX_MBPS, or null/absent for none; else a 400.

    A tiny cap would pace one segment for days (holding a request thread), so the range is bounded.
    """
    mbps = body.get("mbps")
    if mbps is None:
        return None
    if isinstance(mbps, bool) or not isinstance(mbps, int | float) or not math.isfinite(mbps) \
            or not MIN_MBPS <= mbps <= MAX_MBPS:
        raise InvalidRequest(f"`mbps` must be a number from {MIN_MBPS} to {MAX_MBPS}, or null; "
                             f"not {mbps!r:.40}.")
    return float(mbps)
