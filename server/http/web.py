"""The browser test pages: hls.js (player.html) and dash.js (dash.html) playing via /play, both
installed from npm by `make setup` and served from here, so nothing is fetched at run time.

A page reports its state (currentTime, pathway, errors) to `/web/report/<session>` so a test or a
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
DASH_JS = WEB_ROOT / "node_modules" / "dashjs" / "dist" / "modern" / "umd" / "dash.mediaplayer.min.js"
PAGES = {"player.html": "text/html", "dash.html": "text/html", "media-report.js": "text/javascript",
         "abr_probe.html": "text/html", "codec_probe.html": "text/html",
         "page-report.js": "text/javascript", "page.css": "text/css"}
PLAYERS = {"hls.min.js": HLS_JS, "dash.mediaplayer.min.js": DASH_JS}
MAX_REPORTS = 64

_lock = threading.Lock()


def _reports() -> dict[str, dict[str, Any]]:
    """Reports of this app (not module-global, so two apps in one process never mix them)."""
    return current_app.extensions.setdefault("miniflix.web_reports", {})


@bp.get("/player.html", defaults={"name": "player.html"})
@bp.get("/dash.html", defaults={"name": "dash.html"})
@bp.get("/abr_probe.html", defaults={"name": "abr_probe.html"})
@bp.get("/codec_probe.html", defaults={"name": "codec_probe.html"})
@bp.get("/media-report.js", defaults={"name": "media-report.js"})
@bp.get("/page-report.js", defaults={"name": "page-report.js"})
@bp.get("/page.css", defaults={"name": "page.css"})
def page(name: str) -> Response:
    """A test page, or a script or style the pages share, straight from resources/web."""
    return send_file(WEB_ROOT / name, mimetype=PAGES[name], max_age=0)


@bp.get("/hls.min.js", defaults={"name": "hls.min.js"})
@bp.get("/dash.mediaplayer.min.js", defaults={"name": "dash.mediaplayer.min.js"})
def player_script(name: str) -> Response:
    """A player library installed from npm into resources/web/node_modules by `make setup`."""
    path = PLAYERS[name]
    if not path.is_file():
        raise ToolMissing(f"the player library {name} is not installed (resources/web/node_modules).",
                          hint="Run `make setup` (it runs `npm ci` in resources/web).")
    return send_file(path, mimetype="text/javascript", max_age=3600)


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
