"""Edge administration: health, load and content of every edge; stop, start and throttle one."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from server.errors import InvalidRequest
from server.http.context import json_body, need

bp = Blueprint("edges", __name__, url_prefix="/api/edges")


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
    mbps = json_body().get("mbps")
    if mbps is not None and (isinstance(mbps, bool) or not isinstance(mbps, int | float) or mbps <= 0):
        raise InvalidRequest(f"`mbps` must be a positive number or null, not {mbps!r}.")
    need("cdn").throttle(name, mbps)
    return get_edge(name)
