"""Origin serving: published title files with the right MIME type, Range, ETag/Last-Modified/304.

The original upload (`source/`) is never served: only what a player or the studio reads.
Every key goes through the store's key check (`safe_key`), which refuses `..`, absolute paths and
hidden parts (the trash and staging), so a URL cannot reach anything outside the origin. Objects
are streamed from the store (`open(key, start)`), on disk or on S3 alike: a Range reads only its
bytes, a 304 reads none.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, request
from werkzeug.wsgi import FileWrapper

from server.errors import Forbidden
from server.http.context import need
from server.storage.blobstore import TITLE_PREFIX, BlobReader, BlobStat, BlobStore
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
    store: BlobStore = need("store")
    stat = store.stat(key)
    body = LazyObject(store, stat, _asked_span(stat.size))
    # werkzeug's own iterator, not the server's file wrapper: waitress would seek back and forth
    # in the object, and a stream from S3 only reads forward.
    response = Response(FileWrapper(body),  # type: ignore[arg-type]  # a file-like, not an IO
                        mimetype=content_type(key), direct_passthrough=True)
    _describe(response, stat, _max_age(key))
    response.make_conditional(request.environ, accept_ranges=True, complete_length=stat.size)
    response.headers["Accept-Ranges"] = "bytes"
    return response


def _describe(response: Response, stat: BlobStat, max_age: int) -> None:
    """Length, validators and caching headers, as `send_file` sets them for a file."""
    response.content_length = stat.size
    response.last_modified = stat.mtime  # type: ignore[assignment]  # werkzeug takes a timestamp
    response.set_etag(stat.etag)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.expires = int(time.time() + max_age)  # type: ignore[assignment]


def _asked_span(size: int) -> tuple[int, int] | None:
    """(start, length) of a plain single Range, so the store is asked for just those bytes."""
    asked = request.range
    if asked is None or len(asked.ranges) != 1 or "If-Range" in request.headers:
        return None
    bounds = asked.range_for_length(size)
    return (bounds[0], bounds[1] - bounds[0]) if bounds else None


class LazyObject:
    """A seekable view of one stored object that opens it only on the first read, from where it
    was sought to: werkzeug seeks to a Range's start, and a 304 or a HEAD never opens it. When the
    read starts where the asked Range does, only the Range's bytes are fetched."""

    def __init__(self, store: BlobStore, stat: BlobStat, asked: tuple[int, int] | None = None) -> None:
        self.store, self.stat, self.asked = store, stat, asked
        self._pos = 0
        self._reader: BlobReader | None = None

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        if self._reader is not None:
            raise OSError("LazyObject: seek after the first read")
        base = (0, self._pos, self.stat.size)[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        if self._reader is None:
            length = self.asked[1] if self.asked and self.asked[0] == self._pos else None
            self._reader = self.store.open(self.stat.key, self._pos, length)
        chunk = self._reader.read(size)
        self._pos += len(chunk)
        return chunk

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def _is_upload(key: str) -> bool:
    """`videos/<id>/source/…`: the creator's original file, which no viewer may download."""
    parts = key.split("/")
    return len(parts) > 3 and parts[2] == SOURCE_FOLDER


def _max_age(key: str) -> int:
    """Playlists may be replaced by a republish; segments under one title version never change."""
    return 5 if key.endswith((".m3u8", ".mpd")) else ONE_HOUR
