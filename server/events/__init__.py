"""Partitioned event log: topics, key -> partition, offsets, consumer groups (at-least-once)."""

from server.events.api import CDN, ENCODE, PLAYBACK, STEERING, TOPICS, VIDEOS, Publisher

__all__ = ["CDN", "ENCODE", "PLAYBACK", "STEERING", "TOPICS", "VIDEOS", "Publisher"]
