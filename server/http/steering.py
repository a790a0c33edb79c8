"""Steering over HTTP: `/steer` (ranked edges with reasons), `/play` (the router, or a steered
master) and the HLS Content Steering manifest the player reloads every TTL."""

from __future__ import annotations

import urllib.parse
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request
from flask.typing import ResponseReturnValue

from server.http import route
from server.http.context import need
from server.http.playlists import Pathway, steered_master
from server.storage.blobstore import title_prefix

bp = Blueprint("steering", __name__)

PLAY_FILES = {"master.m3u8": "application/vnd.apple.mpegurl", "manifest.mpd": "application/dash+xml"}
STEERING_PARAMS = route.STEERING_PARAMS


def client_location() -> tuple[str | None, tuple[float, float] | None]:
    """`?region=eu-west`, or `?latlon=51.5,-0.1` (or `lat`/`lon`): where the client says it is."""
    return route.client_location(request.args)


published = route.published


@bp.get("/steer/<video_id>")
def steer(video_id: str) -> Response:
    """Every edge ranked for this client, with the reason for each place."""
    published(video_id)
    region, latlon = client_location()
    ranked = need("steering").rank(video_id, region, latlon)
    return jsonify({"video_id": video_id, "client": {"region": region, "latlon": latlon},
                    "ranked": [r.to_dict() for r in ranked]})


@bp.get("/play/<video_id>/<any('master.m3u8', 'manifest.mpd'):name>")
def play(video_id: str, name: str) -> ResponseReturnValue:
    """A 302 to the request router (`/route/…`, which redirects each segment to a healthy edge);
    with `?steering=1` (HLS) a master playlist with every edge as a pathway."""
    published(video_id)
    region, latlon = client_location()
    if name == "master.m3u8" and request.args.get("steering") in ("1", "true", "yes"):
        return _steered(video_id, region, latlon)
    best = need("steering").best(video_id, region, latlon, path=name)  # the decision; 503 if none
    response = redirect(route.route_path(video_id, name, request.args), code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Edge"] = best.edge
    return response


def _steered(video_id: str, region: str | None, latlon: tuple[float, float] | None) -> Response:
    ranked = [r for r in need("steering").rank(video_id, region, latlon) if r.eligible and r.url]
    if not ranked:
        need("steering").best(video_id, region, latlon)  # raises the 503 that names the problem
    origin = need("store").read(f"{title_prefix(video_id)}/master.m3u8").decode()
    pathways = [Pathway(r.edge, r.url.rsplit("/", 1)[0] + "/") for r in ranked]
    body = steered_master(origin, pathways, _steering_uri(video_id))
    return Response(body, mimetype=PLAY_FILES["master.m3u8"], headers={"Cache-Control": "no-store"})


def _steering_uri(video_id: str) -> str:
    """Where the player fetches the steering manifest; keeps the client's location and session."""
    keep = {k: request.args[k] for k in STEERING_PARAMS if k in request.args}
    query = f"?{urllib.parse.urlencode(keep)}" if keep else ""
    return f"/steering/{urllib.parse.quote(video_id)}.json{query}"


@bp.get("/steering/<video_id>.json")
def steering_manifest(video_id: str) -> Response:
    """PATHWAY-PRIORITY (healthy edges, best first) with a TTL; hls.js adds `_HLS_pathway` etc."""
    published(video_id)
    region, latlon = client_location()
    doc: dict[str, Any] = need("steering").steering_manifest(
        video_id, region, latlon, reload_uri=_steering_uri(video_id))
    response = jsonify(doc)
    response.headers["Cache-Control"] = "no-store"
    return response
