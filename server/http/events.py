"""Server-sent events: a live stream of the event log, resumable with `Last-Event-ID`.

Each stream reads through its own consumer group. Every message's `id` is a cursor holding the
stream's next offset in every partition of its topics, so a reconnect with `Last-Event-ID` resumes
exactly after the last event the client saw, on every partition, with nothing lost or repeated.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, request, stream_with_context

from server.errors import InvalidRequest
from server.events.api import TOPICS
from server.http.context import need, services

bp = Blueprint("events", __name__, url_prefix="/api/events")

Slot = tuple[str, int]
HEARTBEAT_S = 10.0
POLL_S = 0.5
MAX_OFFSET = 2**63


def encode_cursor(positions: dict[Slot, int]) -> str:
    """`videos=0,3,0,1|encode=…`: per topic, the next offset of each partition in order."""
    topics: dict[str, dict[int, int]] = {}
    for (topic, partition), offset in positions.items():
        topics.setdefault(topic, {})[partition] = offset
    return "|".join(f"{t}=" + ",".join(str(p[i]) for i in sorted(p)) for t, p in sorted(topics.items()))


def decode_cursor(cursor: str, topics: list[str]) -> dict[Slot, int]:
    """The positions in a `Last-Event-ID`; a malformed one is a 400, not a silent replay."""
    positions: dict[Slot, int] = {}
    try:
        for part in filter(None, cursor.split("|")):
            topic, offsets = part.split("=", 1)
            if topic in topics:
                positions.update({(topic, i): _offset(o) for i, o in enumerate(offsets.split(","))})
    except ValueError:
        raise InvalidRequest(f"Last-Event-ID {cursor[:80]!r} is not a cursor this server wrote.",
                             hint="Reconnect without Last-Event-ID to start from now.") from None
    return positions


def _offset(raw: str) -> int:
    """One partition offset of a cursor: a whole number a SQLite INTEGER can hold."""
    value = int(raw)
    if not 0 <= value < MAX_OFFSET:
        raise ValueError(raw)
    return value


def requested_topics() -> list[str]:
    raw = request.args.get("topics", "")
    topics = [t for t in raw.split(",") if t] or list(TOPICS)
    unknown = sorted(set(topics) - set(TOPICS))
    if unknown:
        raise InvalidRequest(f"Unknown topics {unknown}; known: {list(TOPICS)}.")
    return topics


@bp.get("/stream")
def stream() -> Response:
    """`?topics=videos,encode` (default all); `?from=earliest` replays history on a first connect."""
    topics, log = requested_topics(), need("events")
    group = f"sse-{uuid.uuid4().hex}"
    positions = _start_positions(log, topics)
    log.seek(group, positions)
    body = stream_with_context(_messages(log, group, topics, positions))
    return Response(body, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _start_positions(log: Any, topics: list[str]) -> dict[Slot, int]:
    heads: dict[Slot, int] = log.heads(topics)
    for topic in topics:  # topics nobody published to yet still need their partitions
        for p in range(log.partitions_of(topic)):
            heads.setdefault((topic, p), 0)
    cursor = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if cursor:  # a topic the cursor does not mention starts now, like a first connect
        return {**heads, **{s: o for s, o in decode_cursor(cursor, topics).items() if s in heads}}
    return {s: 0 for s in heads} if request.args.get("from") == "earliest" else heads


def _messages(log: Any, group: str, topics: list[str], positions: dict[Slot, int]) -> Iterator[str]:
    try:
        yield from _relay(log, group, topics, positions)
    finally:  # the client went away (or the server stops): its group must not outlive it
        log.forget(group)


def _relay(log: Any, group: str, topics: list[str], positions: dict[Slot, int]) -> Iterator[str]:
    stopping = services().stopping
    yield f"retry: 1000\n: stream of {','.join(topics)}\n\n"
    last_sent = time.monotonic()
    while not stopping.is_set():
        events = log.poll(group, topics, max_events=200, timeout=POLL_S)
        for event in events:
            positions[(event.topic, event.partition)] = event.offset + 1
            yield (f"id: {encode_cursor(positions)}\nevent: {event.topic}\n"
                   f"data: {json.dumps(event.to_dict(), separators=(',', ':'))}\n\n")
        if events or time.monotonic() - last_sent > HEARTBEAT_S:
            if not events:
                yield ": keep-alive\n\n"
            last_sent = time.monotonic()
