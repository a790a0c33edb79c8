"""Playback telemetry: players post start, segment, stall, quality switch and stop events.

Each event is checked against the `playback` schema of docs/EVENTS.md before it is published, so
analytics never sees a malformed row; one bad event rejects the whole batch (nothing half-written).
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Blueprint, Response, jsonify

from server.errors import InvalidRequest
from server.events.api import PLAYBACK
from server.http.context import json_body, need

bp = Blueprint("telemetry", __name__, url_prefix="/api/telemetry")

COMMON_TEXT = ("session_id", "video_id", "edge", "region", "rendition")
NUMBERS: dict[str, tuple[str, ...]] = {
    "started": ("startup_ms",), "segment": ("bytes", "ms"), "stall": ("duration_ms",),
    "quality_switch": (), "stopped": ("watched_s", "position_s", "duration_s"),
}
MAX_BATCH = 500
MAX_TEXT = 200
# Upper bounds (all numbers are >= 0): generous for any real player, small enough for the analytics
# columns (BIGINT bytes and bitrate) and for sums over millions of rows.
MAX_VALUE: dict[str, float] = {
    "at": 1e10, "bitrate": 1e11, "bytes": 1e12, "startup_ms": 1e9, "ms": 1e9, "duration_ms": 1e9,
    "watched_s": 1e7, "position_s": 1e7, "duration_s": 1e7,
}


@bp.post("")
def post_events() -> Response:
    """One event object, or `{"events": [...]}`; answers 202 with how many were published."""
    body = json_body()
    items = body.get("events", [body]) if "events" in body else [body]
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
        raise InvalidRequest(f"`events` must be a list of 1..{MAX_BATCH} event objects.")
    checked = [validate(item, i) for i, item in enumerate(items)]
    publisher = need("events")
    for event in checked:
        publisher.publish(PLAYBACK, event["session_id"], event)
    return jsonify({"published": len(checked)}), 202  # type: ignore[return-value]


def validate(item: Any, index: int = 0) -> dict[str, Any]:
    """A clean copy of one playback event, or a 400 naming the event and field."""
    where = f"event {index}"
    if not isinstance(item, dict):
        raise InvalidRequest(f"{where} is not a JSON object.")
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in NUMBERS:
        raise InvalidRequest(f"{where}: type {kind!r:.40} is not one of {sorted(NUMBERS)}.")
    event: dict[str, Any] = {"type": kind, "at": _number(item, "at", where, time.time())}
    for name in COMMON_TEXT:
        event[name] = _text(item, name, where, required=name in ("session_id", "video_id"))
    event["bitrate"] = int(_number(item, "bitrate", where, 0))
    for name in NUMBERS[kind]:
        event[name] = _number(item, name, where)
    if kind == "quality_switch":
        event["from"], event["to"] = _text(item, "from", where), _text(item, "to", where, required=True)
    _check_others(item, kind, where)
    return event


def _check_others(item: dict[str, Any], kind: str, where: str) -> None:
    """Known fields this type does not use are dropped, but must still be well formed if sent."""
    for name in set(MAX_VALUE).difference(NUMBERS[kind]).intersection(item):
        _number(item, name, where)
    for name in {"from", "to"}.intersection(item):
        _text(item, name, where)


def _text(item: dict[str, Any], name: str, where: str, required: bool = False) -> str:
    value = item.get(name, "")
    if not isinstance(value, str) or len(value) > MAX_TEXT or (required and not value):
        raise InvalidRequest(f"{where}: `{name}` must be a{' non-empty' if required else ''} string "
                             f"of at most {MAX_TEXT} characters.")
    return value


def _number(item: dict[str, Any], name: str, where: str, default: float | None = None) -> float:
    value, top = item.get(name, default), MAX_VALUE[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= top:
        raise InvalidRequest(f"{where}: `{name}` must be a number from 0 to {top:g} (got {value!r:.40}).")
    return float(value)
