"""The labs over HTTP: `GET /api/lab/replay?trace=…&sizes=…` answers the CDN what-if sweep as JSON,
`/api/lab/abr` the ABR lab and `/api/lab/cost` the cost calculator.

A GET because it changes nothing (the guard's cross-site rules leave it same-origin like the rest of
the API). The recorded trace is read from this server's analytics database; generated traces are
bounded (`MAX_HTTP_REQUESTS`) so one call cannot hold a server thread for minutes.
"""

from __future__ import annotations

import math

from flask import Blueprint, Response, jsonify, request

from server.cdn.topology import Topology
from server.errors import InvalidRequest
from server.http.context import need, services
from server.jobs.store import JobStore
from server.labs import abr, cost
from server.labs import sweep as lab
from server.labs import trace as traces
from server.labs.abr_algorithms import parse_algorithms
from server.labs.abr_manifest import load_ladder
from server.labs.abr_traces import synthetic
from server.labs.cost_prices import PARAMS, prices_from
from server.labs.cost_whatif import parse_whatifs
from server.labs.replay import ORIGIN_RTT_MS, Fill, Latency

bp = Blueprint("lab", __name__, url_prefix="/api/lab")

MAX_HTTP_REQUESTS = 1_000_000
MAX_HTTP_SESSIONS = 200
DEFAULT_SIZES = "64M,256M,1G,4G"


@bp.get("/replay")
def replay() -> Response:
    """The sweep of every size x policy (and Belady's MIN), with the size each policy needs."""
    whatif = lab.WhatIf(lab.parse_sizes(request.args.get("sizes", DEFAULT_SIZES)),
                        lab.parse_policies(request.args.get("policies", "all")),
                        int(_number("edges", 1, 1, 256)), _number("ttl", 0.0, 0, 1e9),
                        _number("target", 0.9, 0.01, 0.9999), _latency(),
                        Fill(int(_number("fill", 0, 0, lab.MAX_FILL_TITLES)),
                             _number("fill_period", 86400.0, 60, 1e9)))
    return jsonify(lab.run_sweep(_trace(), whatif).to_dict())


@bp.get("/abr")
def abr_lab() -> Response:
    """Simulated viewers of `title` over a built-in trace (no files: the server reads none of a
    client's paths), per algorithm: QoE distributions, one session's timeline, ladder suggestions."""
    title = request.args.get("title", "").strip()
    if not title:
        raise InvalidRequest("Parameter 'title' is required: the id of a published title.")
    player = abr.Player(_number("rtt_ms", 40.0, 0, 10_000), _number("startup_s", 2.0, 0.1, 600),
                        _number("max_buffer_s", 30.0, 1, 600))
    spec = request.args.get("trace", "mobile")
    seed = int(_number("seed", 1, 0, 2**31))
    synthetic(spec, seed)  # a 400 for a bad spec before any work
    utility = abr.check_utility(request.args.get("utility", "bitrate").strip().lower())
    experiment = abr.Experiment(spec, parse_algorithms(request.args.get("algorithms", "all")),
                                int(_number("sessions", 20, 1, MAX_HTTP_SESSIONS)), seed, player,
                                utility=utility)
    ladder = load_ladder(need("catalog"), need("store"), title)
    return jsonify(abr.run(ladder, experiment).to_dict())


@bp.get("/cost")
def cost_lab() -> Response:
    """What the library (or `title`) costs to store, serve and encode at the prices given (`price_storage`,
    `price_egress_edge`, `price_egress_origin`, `price_cpu_hour`; defaults: list prices), a month ahead,
    and after each what-if in `what_if` (comma-separated; measured figures only)."""
    prices = prices_from({param: request.args.get(param) for param in PARAMS.values()})
    whatifs = parse_whatifs(request.args.get("what_if", ""))
    title = request.args.get("title", "").strip() or None
    catalog, store, conn = need("catalog"), need("store"), need("analytics").reader()
    try:
        result = cost.run(catalog, store, JobStore(services().data.jobs_db), conn, prices, whatifs, title)
    finally:
        conn.close()
    return jsonify(result.to_dict())


def _trace() -> traces.ReplayTrace:
    kind = request.args.get("trace", traces.RECORDED)
    if kind == traces.RECORDED:
        conn = need("analytics").reader()
        try:
            return traces.recorded(conn, where="this server's analytics")
        finally:
            conn.close()
    return traces.generated(kind, requests=int(_number("requests", 200_000, 1, MAX_HTTP_REQUESTS)),
                            titles=int(_number("titles", 200, 1, 100_000)),
                            alpha=_number("alpha", 0.8, 0.01, 5), seed=int(_number("seed", 1, 0, 2**31)))


def _latency() -> Latency:
    edges = Latency.from_topology(Topology.configured())
    return Latency(edges.edge_rtt_ms, edges.edge_mbps, _number("origin_rtt_ms", ORIGIN_RTT_MS, 0, 10_000))


def _number(name: str, default: float, lo: float, hi: float) -> float:
    """A numeric query argument within [lo, hi], or a 400 naming it."""
    raw = request.args.get(name)
    if raw is None:        # given but empty is a mistake to name, not the default
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and lo <= value <= hi):
        raise InvalidRequest(f"Parameter {name!r} must be a number from {lo:g} to {hi:g}, not {raw[:40]!r}.")
    return value
