"""What the JetStream event log (`nats_log.py`) says on the wire: subject, stream and header names,
the retry of requests through a failover, acks, and the setting's URL."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg

from server.errors import InvalidRequest, MiniflixError
from server.events.model import Event

Slot = tuple[str, int]  # (topic, partition)
T = TypeVar("T")
STREAM_PREFIX = "MINIFLIX_"
KEY_HEADER, TS_HEADER = "Miniflix-Key", "Miniflix-Ts"
REQUEST_TIMEOUT_S = 10.0


class EventBusError(MiniflixError):
    """The JetStream cluster is unreachable or refused a request; names the `event_log` setting."""

    status = 503


async def as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


async def ack_all(msgs: list[Msg]) -> None:
    for msg in msgs:
        with contextlib.suppress(nats.errors.Error):  # unacked, it comes again: at-least-once
            await msg.ack()


async def nak_all(msgs: list[Msg]) -> None:
    for msg in msgs:
        with contextlib.suppress(nats.errors.Error):  # not nak'd, it comes again after ack_wait
            await msg.nak()


def event_of(msg: Msg) -> Event:
    meta = msg.metadata
    topic, partition = slot_of(msg.subject)
    headers = msg.headers or {}
    ts = float(headers.get(TS_HEADER, meta.timestamp.timestamp() if meta.timestamp else 0.0))
    return Event(topic, partition, meta.sequence.stream - 1, unquote(headers.get(KEY_HEADER, "")), ts,
                 msg.data.decode())


# What a publish or request meets while a node is down or a stream elects a new leader.
TRANSIENT = (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError,
             nats.js.errors.ServiceUnavailableError, nats.js.errors.NoStreamResponseError,
             nats.errors.ConnectionReconnectingError)


async def retrying(call: Any, deadline: float = REQUEST_TIMEOUT_S * 2) -> Any:
    """`await call()` again with backoff while the cluster fails over (timeouts, no responders,
    503 during a leader election), up to `deadline` seconds."""
    end, pause = time.monotonic() + deadline, 0.05
    while True:
        try:
            return await call()
        except TRANSIENT as exc:
            if time.monotonic() + pause > end:
                raise EventBusError(f"The JetStream cluster did not answer for {deadline:.0f} s: {exc!r}.",
                                    hint="check the event_log setting and the cluster's nodes") from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)


def headers_for(key: str) -> dict[str, str]:
    """The msg id makes a resend after a lost ack a duplicate the stream drops (2 min window)."""
    return {"Nats-Msg-Id": uuid.uuid4().hex, KEY_HEADER: quote(key), TS_HEADER: repr(time.time())}


def stream_name(topic: str) -> str:
    return STREAM_PREFIX + topic.upper().replace(".", "_").replace("-", "_")


def safe_name(group: str) -> str:
    """A group name usable as a durable consumer name and a KV key token."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in group)


def slot_of(subject: str) -> Slot:
    rest, _, part = subject[len("miniflix."):].rpartition(".")
    return rest, int(part)


def servers_of(url: str) -> list[str]:
    """`nats://h:p,h:p` -> `["nats://h:p", "nats://h:p"]`; a bad URL is a clear settings error."""
    parts = urlsplit(url)
    hosts = [h.strip() for h in parts.netloc.split(",") if h.strip()]
    if parts.scheme != "nats" or not hosts or any(":" not in h for h in hosts):
        raise InvalidRequest(f"Invalid event_log setting {url!r}.",
                             hint="use nats://HOST:PORT[,HOST:PORT…], e.g. nats://127.0.0.1:4222")
    return [f"nats://{h}" for h in hosts]
