"""Origin serving: published title files with the right MIME type, Range, ETag/Last-Modified/304.

The original upload (`source/`) is never served: only what a player or the studio reads.
Every key goes through `LocalBlobStore.path()`, which refuses `..`, absolute paths, hidden parts
(the trash and staging dirs) and symlinks, so a URL cannot reach anything outside the origin.
"""

from __future__ import annotations

from flask import Blueprint, Response, send_file

from server.errors import Forbidden
from server.http.context import need
from server.storage.blobstore import TITLE_PREFIX
from server.storage.mime import content_type

bp = Blueprint("origin", __name__, url_prefix="/origin")

ONE_HOUR = 3600
SOURCE_FOLDER = "source"


@bp.get("/<path:key>")
def serve(key: str) -> Response:
    """One origin object; werkzeug answers Range (206/416) and conditional requests (304)."""
    if not key.startswith(TITLE_PREFIX + "/"):
        raise Forbidden(f"Refused {key!r}: the origin serves only `{TITLE_PREFIX}/<id>/…` keys.")
    if _is_upload(key):
        raise Forbidden("Refused: the original upload is kept for re-encoding, not served.",
                        hint="Play the title through /play/<id>/master.m3u8.")
    store = need("store")
    stat = store.stat(key)
    response = send_file(store.path(key), mimetype=content_type(key), conditional=True,
                         etag=stat.etag, last_modified=stat.mtime, max_age=_max_age(key))
    response.headers["Accept-Ranges"] = "bytes"
    return response


def _is_upload(key: str) -> bool:
    """`videos/<id>/source/…`: the creator's original file, which no viewer may download."""
    parts = key.split("/")
    return len(parts) > 3 and parts[2] == SOURCE_FOLDER


def _max_age(key: str) -> int:
    """Playlists may be replaced by a republish; segments under one title version never change."""
    return 5 if key.endswith((".m3u8", ".mpd")) else ONE_HOUR
