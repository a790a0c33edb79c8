"""Search: `GET /api/search?q=…&sort=…&limit=…&offset=…&<facet>=<value>` (facets repeat), and
`GET /api/search?in=subtitles&q=…&limit=…`: titles whose subtitles say it, with the moments."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from server.errors import InvalidRequest
from server.http.context import arg_int, need
from server.search import SORTS

bp = Blueprint("search", __name__, url_prefix="/api/search")

FACET_ARGS = ("duration_bucket", "resolution", "tags", "upload_month")


@bp.get("")
def search() -> Response:
    scope, sort = request.args.get("in", "titles"), request.args.get("sort", "relevance")
    limit, offset = arg_int("limit", 20, 1, 200), arg_int("offset", 0)
    if scope == "subtitles":  # ranked by relevance only; every argument is still checked
        if sort not in SORTS:
            raise InvalidRequest(f"Unknown sort {sort[:40]!r}.", hint=f"use one of {', '.join(SORTS)}")
        return jsonify(need("search").search_subtitles(request.args.get("q", ""), limit=limit, offset=offset))
    if scope != "titles":
        raise InvalidRequest(f"Cannot search in {scope[:40]!r}.", hint="in=titles or in=subtitles")
    facets = {name: request.args.getlist(name) for name in FACET_ARGS if request.args.getlist(name)}
    result = need("search").search(request.args.get("q", ""), sort=sort, facets=facets or None, limit=limit,
                                   offset=offset)
    return jsonify(result.to_dict())
