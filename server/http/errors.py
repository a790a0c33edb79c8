"""One place where engine exceptions become JSON error responses with the exception's status."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException

from server.errors import MiniflixError
from server.http.context import EXTENSION

log = logging.getLogger(__name__)

INSTALL_ROOT = Path(__file__).resolve().parents[2]


def error_body(error: str, message: str, hint: str | None, status: int) -> tuple[Response, int]:
    """The JSON shape of every error: `{error, message, hint}` with the HTTP status."""
    return jsonify({"error": error, "message": message, "hint": hint}), status


def init_app(app: Flask) -> None:
    """Register the handlers: engine errors, HTTP errors (404, 405, 413…), then anything else."""
    app.register_error_handler(MiniflixError, _engine_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _engine_error(exc: MiniflixError) -> tuple[Response, int]:
    return error_body(type(exc).__name__, without_paths(exc.message),
                      without_paths(exc.hint) if exc.hint else exc.hint, exc.status)


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    name = "".join(part.capitalize() for part in (exc.name or "Error").split())
    return error_body(name, exc.description or exc.name or "HTTP error", None, status)


def _unexpected(exc: Exception) -> tuple[Response, int]:
    """A bug: the details go to the log under an id; the body names only the id (no paths, no text)."""
    error_id = uuid.uuid4().hex[:12]
    log.exception("unhandled error in a request (error id %s)", error_id)
    return error_body("InternalError", f"The server failed (error id {error_id}).",
                      "The server log has the details under this id; this is a bug worth reporting.", 500)


def without_paths(text: str) -> str:
    """`text` with the data dir and the install dir replaced by placeholders: bodies never show them."""
    for root, placeholder in _roots():
        text = text.replace(root, placeholder)
    return text


def _roots() -> list[tuple[str, str]]:
    data = getattr(getattr(current_app.extensions.get(EXTENSION), "data", None), "root", None)
    return [*([(str(data), "<data dir>")] if data else []), (str(INSTALL_ROOT), "<install dir>")]
