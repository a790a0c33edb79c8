"""Uploads: the body streams to a file under the data dir's uploads folder, then becomes a job.

`POST /api/uploads?name=clip.mp4` with the raw file as the body (or a multipart form with a `file`
field). The size limit (`upload_limit_mb`) is checked before and while reading; an upload that fails
or is too big leaves no file behind. The file name is sanitised; the original is kept for display.

On our waitress server (`upload_channel.py`) a raw body arrives already written to a `.part` file in
the uploads folder and is renamed into place: one write, one copy on disk. Elsewhere (Flask's test
client, another WSGI server) the body is streamed from `wsgi.input` to the same place.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import IO

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.formparser import parse_form_data
from werkzeug.utils import secure_filename

from server.errors import InvalidRequest, TooLarge
from server.http.context import need, services
from server.http.upload_channel import BODY_ERROR, RECEIVED, ReceivedBody

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
    if (error := request.environ.get(BODY_ERROR)) is not None:
        raise error  # the server could not store the body (disk full)
    target, original = _store(services().data.uploads, limit)
    try:
        job = need("ingest").submit(target, original)
    except Exception:
        target.unlink(missing_ok=True)
        raise
    return jsonify({**job.to_dict(), "upload": target.name}), 202  # type: ignore[return-value]


def _store(folder: Path, limit: int) -> tuple[Path, str]:
    """Put the uploaded file in `folder` under a safe name: where it is, and the name the client gave."""
    received = request.environ.get(RECEIVED)
    try:
        if request.mimetype == "multipart/form-data":
            target, original = _form_file(folder, limit)
        else:
            original = _raw_name()
            target = folder / safe_name(original)
            if isinstance(received, ReceivedBody):
                _claim(received, target)
            else:
                _save(request.stream, target, limit)
    finally:
        if isinstance(received, ReceivedBody):
            received.close()  # an unclaimed body is gone before the client hears why
    return target, original


def _form_file(folder: Path, limit: int) -> tuple[Path, str]:
    """The `file` field of a multipart form, parsed straight into `folder` (not the system temp dir)."""
    parts: list[Path] = []

    def into_folder(*_: object, **__: object) -> IO[bytes]:
        parts.append(folder / f"{uuid.uuid4().hex}.part")
        return parts[-1].open("w+b")

    files = parse_form_data(request.environ, stream_factory=into_folder,
                            max_content_length=limit + MULTIPART_OVERHEAD)[2]
    try:
        part = files.get("file")
        if part is None or not part.filename:
            raise InvalidRequest("The multipart form has no `file` field with a file name.")
        target = folder / safe_name(part.filename)
        _keep(part.stream, target, limit)
        return target, part.filename
    finally:
        for _, stream in files.items(multi=True):
            stream.close()
        for path in parts:
            path.unlink(missing_ok=True)


def _keep(stream: IO[bytes], target: Path, limit: int) -> None:
    """Rename a form part's file (in the uploads folder already) to `target`, if its size is right."""
    size = stream.seek(0, os.SEEK_END)
    stream.close()
    if size == 0:
        raise _empty()
    if size > limit:
        raise _too_large(limit)
    os.replace(str(getattr(stream, "name", "")), target)


def _raw_name() -> str:
    """The name of a file sent as the raw body."""
    name = request.args.get("name") or request.headers.get("X-Filename", "")
    if not name:
        raise InvalidRequest("Say what the file is called: `?name=clip.mp4` (or an X-Filename header).")
    return name


def _claim(received: ReceivedBody, target: Path) -> None:
    """Rename the body the server wrote (within the limit) into place; an empty one is refused."""
    if len(received) == 0:
        raise _empty()
    received.claim(target)


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
            raise _empty()
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def _empty() -> InvalidRequest:
    return InvalidRequest("The upload is empty.", hint="Send the file's bytes as the body.")


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"The upload is larger than the limit of {limit / 1024 / 1024:.0f} MiB.",
                    hint="Raise MINIFLIX_UPLOAD_LIMIT_MB, or register the file by path (POST /api/jobs).")
