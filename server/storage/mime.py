"""MIME types of packaged title objects, as streaming clients expect them (origin and edges)."""

from __future__ import annotations

import posixpath

MIME_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".m4v": "video/mp4",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".json": "application/json",
    ".ts": "video/mp2t",
}


def content_type(key: str) -> str:
    """The MIME type for an object key, by extension; unknown ones are plain bytes."""
    return MIME_TYPES.get(posixpath.splitext(key)[1].lower(), "application/octet-stream")
