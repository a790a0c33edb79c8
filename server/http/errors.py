"""One place where engine exceptions become JSON error responses with the exception's status."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from server.errors import MiniflixError

log = logging.getLogger(__name__)


def error_body(error: str, message: str, hint: str | None, status: int) -> tuple[Response, int]:
    """The JSON shape of every error: `{error, message, hint}` with the HTTP status."""
    return jsonify({"error": error, "message": message, "hint": hint}), status


def init_app(app: Flask) -> None:
    """Register the handlers: engine errors, HTTP errors (404, 405, 413…), then anything else."""
    app.register_error_handler(MiniflixError, _engine_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _engine_error(exc: MiniflixError) -> tuple[Response, int]:
    return error_body(type(exc).__name__, exc.message, exc.hint, exc.status)


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    name = "".join(part.capitalize() for part in (exc.name or "Error").split())
    return error_body(name, exc.description or exc.name or "HTTP error", None, status)


def _unexpected(exc: Exception) -> tuple[Response, int]:
    log.exception("unhandled error in a request")
    return error_body("InternalError", f"The server failed: {type(exc).__name__}: {exc}",
                      "See the server log; this is a bug worth reporting.", 500)
