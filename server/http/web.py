"""The browser test page: hls.js (installed by `make setup`, served from here) playing via /play.

The page reports its state (currentTime, pathway, errors) to `/web/report/<session>` so a test or a
person can see what the browser did without a DevTools connection.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, send_file

from server.errors import NotFound, ToolMissing
from server.http.context import json_body

bp = Blueprint("web", __name__, url_prefix="/web")

WEB_ROOT = Path(__file__).resolve().parents[2] / "resources" / "web"
HLS_JS = WEB_ROOT / "node_modules" / "hls.js" / "dist" / "hls.min.js"
MAX_REPORTS = 64

_lock = threading.Lock()


def _reports() -> dict[str, dict[str, Any]]:
    """Reports of this app (not module-global, so two apps in one process never mix them)."""
    return current_app.extensions.setdefault("miniflix.web_reports", {})


@bp.get("/player.html")
def player_page() -> Response:
    return send_file(WEB_ROOT / "player.html", mimetype="text/html", max_age=0)


@bp.get("/hls.min.js")
def hls_js() -> Response:
    if not HLS_JS.is_file():
        raise ToolMissing(f"hls.js is not installed at {HLS_JS}.",
                          hint="Run `make setup` (it runs `npm install` in resources/web).")
    return send_file(HLS_JS, mimetype="text/javascript", max_age=3600)


@bp.post("/report/<session>")
def put_report(session: str) -> Response:
    """Keep the latest state a page reported (bounded: the oldest sessions are dropped)."""
    report, reports = json_body(), _reports()
    with _lock:
        reports.pop(session, None)
        reports[session] = report
        while len(reports) > MAX_REPORTS:
            reports.pop(next(iter(reports)))
    return jsonify({"ok": True})


@bp.get("/report/<session>")
def get_report(session: str) -> Response:
    with _lock:
        report = _reports().get(session)
    if report is None:
        raise NotFound(f"No report from player session {session!r} yet.")
    return jsonify(report)
