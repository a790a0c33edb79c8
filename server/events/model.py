"""The event envelope consumers receive, and the key -> partition rule producers rely on."""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from server.errors import InvalidRequest

TOPIC_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Event:
    """One stored event. `value_json` is the payload as stored; `value` decodes it once, lazily,
    so bulk consumers (analytics) can hand the raw JSON to DuckDB without a Python decode."""

    topic: str
    partition: int
    offset: int
    key: str
    timestamp: float
    value_json: str = field(repr=False)

    @classmethod
    def stored(cls, topic: str, partition: int, rows: list[tuple[int, str, float, str]]) -> list[Event]:
        """Events of one partition from `(offset, key, timestamp, value_json)` rows. A poll makes
        thousands: filling each instance's fields directly skips the frozen dataclass's per-field
        `object.__setattr__` (half the cost of a fetched event)."""
        events = []
        for offset, key, timestamp, value_json in rows:
            event = object.__new__(cls)
            event.__dict__.update(topic=topic, partition=partition, offset=offset, key=key,
                                  timestamp=timestamp, value_json=value_json)
            events.append(event)
        return events

    @property
    def id(self) -> str:
        """Unique forever: offsets are dense per partition and never reused."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    @cached_property
    def value(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.value_json)
        return decoded

    @property
    def type(self) -> str:
        return str(self.value.get("type", ""))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "partition": self.partition, "offset": self.offset,
                "key": self.key, "timestamp": self.timestamp, "value": self.value}


def partition_for(key: str, partitions: int) -> int:
    """Stable across processes and runs (unlike `hash()`): crc32 of the UTF-8 key."""
    return zlib.crc32(key.encode("utf-8")) % partitions


def check_topic(topic: str) -> str:
    if not TOPIC_NAME.match(topic):
        raise InvalidRequest(f"Invalid topic name {topic!r}.",
                             hint="use lower-case letters, digits, '.', '_' or '-', starting with a letter")
    return topic


def _reject(value: object) -> None:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The C encoder json.dumps builds on every call, built once (compact, no NaN). Without its circular-
# reference bookkeeping a cyclic value overflows the stack instead, reported the same way below.
_ENCODE = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _reject, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False)


def encode_value(topic: str, value: dict[str, Any]) -> str:
    """The payload as compact JSON; a non-JSON-able value is the producer's bug, named clearly."""
    if not isinstance(value, dict):
        raise InvalidRequest(f"Event value for topic {topic!r} must be a dict, got {type(value).__name__}.")
    try:
        return "".join(_ENCODE(value, 0))
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidRequest(f"Event value for topic {topic!r} is not JSON: {exc}.") from exc
