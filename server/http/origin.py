"""Origin serving: published title files with the right MIME type, Range, ETag/Last-Modified/304.

Every key goes through `LocalBlobStore.path()`, which refuses `..`, absolute paths, hidden parts
(the trash and staging dirs) and symlinks, so a URL cannot reach anything outside the origin.
"""

from __future__ import annotations

from flask import Blueprint, Response, send_file

from server.errors import Forbidden
from server.http.context import need
from server.storage.blobstore import TITLE_PREFIX

bp = Blueprint("origin", __name__, url_prefix="/origin")

MIME_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".m4v": "video/mp4",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".json": "application/json",
    ".ts": "video/mp2t",
}
ONE_HOUR = 3600


def mime_type(key: str) -> str:
    """The MIME type players expect for an origin object (by extension)."""
    dot = key.rfind(".")
    return MIME_TYPES.get(key[dot:].lower(), "application/octet-stream") if dot >= 0 else \
        "application/octet-stream"


@bp.get("/<path:key>")
def serve(key: str) -> Response:
    """One origin object; werkzeug answers Range (206/416) and conditional requests (304)."""
    if not key.startswith(TITLE_PREFIX + "/"):
        raise Forbidden(f"Refused {key!r}: the origin serves only `{TITLE_PREFIX}/<id>/…` keys.")
    store = need("store")
    stat = store.stat(key)
    response = send_file(store.path(key), mimetype=mime_type(key), conditional=True,
                         etag=stat.etag, last_modified=stat.mtime, max_age=_max_age(key))
    response.headers["Accept-Ranges"] = "bytes"
    return response


def _max_age(key: str) -> int:
    """Playlists may be replaced by a republish; segments under one title version never change."""
    return 5 if key.endswith((".m3u8", ".mpd")) else ONE_HOUR
