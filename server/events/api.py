"""The publish seam every pipeline step uses; the partitioned log (`server/events/log.py`) backs it."""

from __future__ import annotations

from typing import Any, Protocol

# One topic per event family (ARCHITECTURE.md, Events). Keys: video id, session id or edge name.
VIDEOS = "videos"
ENCODE = "encode"
PLAYBACK = "playback"
CDN = "cdn"
STEERING = "steering"
TOPICS = (VIDEOS, ENCODE, PLAYBACK, CDN, STEERING)


class Publisher(Protocol):
    """Anything events can be published to: `publish(topic, key, value) -> (partition, offset)`.

    `value` is a JSON-able dict and carries at least `"type"` (e.g. `"published"`).
    """

    def publish(self, topic: str, key: str, value: dict[str, Any]) -> tuple[int, int]: ...
