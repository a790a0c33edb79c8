"""The request router for players without Content Steering (VLC, ffmpeg, plain players).

`/play` sends them to `/route/<id>/<where>/master.m3u8` (or `manifest.mpd`). The router serves the
title's playlists and MPD itself, unchanged: their URIs are relative, so every playlist, init
segment and media segment is asked of the router again. Each media object is answered with a 302
to the signed URL of the best edge healthy at that moment, as the request routers of real CDNs
do, so a player keeps reading every frame when its edge stops mid-play.

`<where>` is the viewer's steering query (`region=eu-west&session=…`, `-` for none) carried in the
path, so relative URLs keep it and every redirect is steered for this viewer.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping

from flask import Blueprint, Response, redirect, request
from flask.typing import ResponseReturnValue

from server.catalog import PUBLISHED
from server.cdn.steering import NoEdgeAvailable
from server.errors import InvalidRequest, NotFound
from server.http.context import need
from server.http.playlists import with_base_url
from server.storage.blobstore import safe_key, title_prefix
from server.storage.mime import content_type

bp = Blueprint("route", __name__, url_prefix="/route")

STEERING_PARAMS = ("region", "latlon", "lat", "lon", "session")
MANIFESTS = (".m3u8", ".mpd")   # small text the router serves itself: their URIs stay on the router
NOWHERE = "-"                   # the path part of a viewer who gave no location
VALUE = re.compile(r"[\w.,:-]{1,128}")
NO_STORE = {"Cache-Control": "no-store"}


def client_location(args: Mapping[str, str]) -> tuple[str | None, tuple[float, float] | None]:
    """`region=eu-west`, or `latlon=51.5,-0.1` (or `lat`/`lon`): where the client says it is."""
    region = args.get("region") or None
    if ("lat" in args) != ("lon" in args):  # one alone would be silently ignored
        raise InvalidRequest("Give both `lat` and `lon` (or `latlon=lat,lon`).")
    raw = args.get("latlon") or (f"{args['lat']},{args['lon']}" if "lat" in args and "lon" in args else "")
    if not raw:
        return region, None
    try:
        lat, lon = (float(x) for x in raw.split(","))
    except ValueError:
        raise InvalidRequest(f"Location {raw!r} is not `lat,lon` in degrees.",
                             hint="e.g. ?latlon=51.5,-0.1 or ?region=eu-west") from None
    return region, (lat, lon)


def published(video_id: str) -> None:
    """404 unless the title is published (a deleted or failed title has nothing to steer to)."""
    title = need("catalog").get(video_id)
    if title.status != PUBLISHED:
        raise NotFound(f"Title {video_id!r} is {title.status}, not playable.")


def steering_args(args: Mapping[str, str]) -> dict[str, str]:
    """The viewer's steering parameters from a query, checked so they can travel in a path part."""
    kept = {k: args[k] for k in STEERING_PARAMS if args.get(k)}
    for name, value in kept.items():
        if not VALUE.fullmatch(value):
            raise InvalidRequest(f"Parameter {name}={value[:40]!r} has characters a player URL cannot carry.",
                                 hint="use letters, digits and . , : - _ (at most 128)")
    return kept


def route_path(video_id: str, name: str, args: Mapping[str, str]) -> str:
    """The router URL (path) of one title object for a viewer: `/route/<id>/<where>/<name>`."""
    kept = steering_args(args)
    where = urllib.parse.urlencode(kept, safe=",:") if kept else NOWHERE
    return f"/route/{urllib.parse.quote(video_id)}/{where}/{name}"


def _where_args(where: str) -> dict[str, str]:
    """The `<where>` path part back into steering parameters (unknown names refused)."""
    if where == NOWHERE:
        return {}
    pairs = urllib.parse.parse_qsl(where, keep_blank_values=True)
    unknown = sorted({k for k, _ in pairs} - set(STEERING_PARAMS))
    if unknown:
        raise InvalidRequest(f"Unknown routing parameter(s) {', '.join(unknown)} in {where[:80]!r}.",
                             hint=f"allowed: {', '.join(STEERING_PARAMS)}; start from /play/<id>/…")
    return steering_args(dict(pairs))


@bp.get("/<video_id>/<where>/<path:rest>")
def route(video_id: str, where: str, rest: str) -> ResponseReturnValue:
    """A playlist or MPD from the router itself; any other object: a 302 to the best healthy edge."""
    published(video_id)
    args = _where_args(where)
    key = safe_key(f"{title_prefix(video_id)}/{rest}")
    if not key.startswith(title_prefix(video_id) + "/"):
        raise NotFound(f"Object {rest!r} is not part of title {video_id!r}.")
    rest = key[len(title_prefix(video_id)) + 1:]
    if rest.endswith(MANIFESTS):
        return _manifest(key)
    return _to_edge(video_id, rest, args)


def _manifest(key: str) -> Response:
    """The origin's text as published (its relative URIs lead back to the router); an MPD also names
    the router as its BaseURL, since ffmpeg resolves against the URL before any redirect."""
    body = need("store").read(key)
    if key.endswith(".mpd"):
        base = request.base_url.rsplit("/", 1)[0] + "/"
        body = with_base_url(body.decode(), base).encode()
    return Response(body, mimetype=content_type(key), headers=NO_STORE)


def _to_edge(video_id: str, rest: str, args: Mapping[str, str]) -> ResponseReturnValue:
    """302 to the object on the best edge healthy now. Not published as a decision: one per segment
    would drown the viewer-level decisions analytics counts."""
    region, latlon = client_location(args)
    ranked = need("steering").rank(video_id, region, latlon, path=rest, publish=False)
    best = next((r for r in ranked if r.eligible and r.url), None)
    if best is None or best.url is None:
        raise NoEdgeAvailable("No edge is healthy right now.", hint="start an edge from the CDN panel")
    session = args.get("session")  # checked by steering_args: carried so the edge's log names the viewer
    url = f"{best.url}?{urllib.parse.urlencode({'session': session})}" if session else best.url
    response = redirect(url, code=302)
    response.headers.update(NO_STORE)
    response.headers["X-Edge"] = best.edge
    return response
