"""Uploads: the body streams to a file under the data dir's uploads folder, then becomes a job.

`POST /api/uploads?name=clip.mp4` with the raw file as the body (or a multipart form with a `file`
field). The size limit (`upload_limit_mb`) is checked before and while reading; an upload that fails
or is too big leaves no file behind. The file name is sanitised; the original is kept for display.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import IO

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.utils import secure_filename

from server.errors import InvalidRequest, TooLarge
from server.http.context import need, services

bp = Blueprint("uploads", __name__, url_prefix="/api/uploads")

CHUNK = 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024  # form boundaries and part headers around the file
MAX_NAME = 120


def safe_name(original: str) -> str:
    """A file name that cannot climb out of a folder or collide: `<random>-<sanitised name>`."""
    stem = secure_filename(original.replace("\\", "/").rsplit("/", 1)[-1])[-MAX_NAME:] or "upload"
    return f"{uuid.uuid4().hex[:10]}-{stem}"


@bp.post("")
def upload() -> Response:
    limit = int(current_app.config["UPLOAD_LIMIT_BYTES"])
    request.max_content_length = limit + MULTIPART_OVERHEAD
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    source, original = _body()
    target = services().data.uploads / safe_name(original)
    _save(source, target, limit)
    try:
        job = need("ingest").submit(target, original)
    except Exception:
        target.unlink(missing_ok=True)
        raise
    return jsonify({**job.to_dict(), "upload": target.name}), 202  # type: ignore[return-value]


def _body() -> tuple[IO[bytes], str]:
    """The file's byte stream and the name the client gave it."""
    if request.mimetype == "multipart/form-data":
        part = request.files.get("file")
        if part is None or not part.filename:
            raise InvalidRequest("The multipart form has no `file` field with a file name.")
        return part.stream, part.filename
    name = request.args.get("name") or request.headers.get("X-Filename", "")
    if not name:
        raise InvalidRequest("Say what the file is called: `?name=clip.mp4` (or an X-Filename header).")
    return request.stream, name


def _save(source: IO[bytes], target: Path, limit: int) -> None:
    """Copy in chunks to `<target>.part`, renamed only when whole; nothing left behind on failure."""
    part = target.with_name(target.name + ".part")
    written = 0
    try:
        with part.open("wb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise _too_large(limit)
                out.write(chunk)
        if written == 0:
            raise InvalidRequest("The upload is empty.", hint="Send the file's bytes as the body.")
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"The upload is larger than the limit of {limit / 1024 / 1024:.0f} MiB.",
                    hint="Raise MINIFLIX_UPLOAD_LIMIT_MB, or register the file by path (POST /api/jobs).")
