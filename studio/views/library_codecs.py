"""The Library title panel's rung list, grouped by video codec (`H.264 360p, 240p · AV1 360p, 240p`)."""

from __future__ import annotations

from typing import Any

# RFC 6381 sample entry -> what a person reads; a rung without a `codec` (older titles) is H.264
CODEC_LABELS = {"avc1": "H.264", "avc3": "H.264", "av01": "AV1", "hvc1": "HEVC", "hev1": "HEVC"}


def codec_label(rendition: dict[str, Any]) -> str:
    return CODEC_LABELS.get(str(rendition.get("codec") or "avc1")[:4], "video")


def rungs_text(renditions: list[dict[str, Any]]) -> str:
    """Rung names per codec, the codec's rungs in ladder order; names only when every rung is H.264."""
    groups: dict[str, list[str]] = {}
    for rendition in renditions:
        label = codec_label(rendition)
        groups.setdefault(label, []).append(str(rendition["name"]).split("-")[0] if label != "H.264"
                                             else str(rendition["name"]))
    if list(groups) in ([], ["H.264"]):
        return ", ".join(groups.get("H.264", []))
    return " · ".join(f"{label} {', '.join(names)}" for label, names in groups.items())
