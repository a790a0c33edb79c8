"""A minimal SSE reader over http.client, for tests: yields (id, event, data) messages."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any


class EventStream:
    """An open `text/event-stream` response; `next_messages(n)` reads n data messages."""

    def __init__(self, host: str, port: int, path: str, last_event_id: str | None = None) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=15)
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()

    def messages(self) -> Iterator[dict[str, Any]]:
        fields: dict[str, str] = {}
        while True:
            line = self.response.readline().decode().rstrip("\n")
            if line == "" and fields:
                if "data" in fields:
                    yield {"id": fields.get("id"), "event": fields.get("event"),
                           "data": json.loads(fields["data"])}
                fields = {}
            elif line and not line.startswith(":") and ":" in line:
                name, value = line.split(":", 1)
                fields[name] = value.removeprefix(" ")

    def next_messages(self, count: int) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        for message in self.messages():
            got.append(message)
            if len(got) == count:
                break
        return got

    def close(self) -> None:
        self.response.close()  # the response's file keeps the socket open after conn.close()
        self.conn.close()
