"""Small pure pieces of HTTP serving shared by the edges: MIME types, Range, simulated link delay."""

from __future__ import annotations

from dataclasses import dataclass

from server.errors import MiniflixError


class RangeNotSatisfiable(MiniflixError):
    """A Range header that asks for bytes the object does not have."""

    status = 416


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int          # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One `bytes=a-b`, `bytes=a-` or `bytes=-n` range; None means the whole object.

    Multi-range requests are answered with the whole object (RFC 9110 allows ignoring Range).
    """
    if not header or not header.strip().lower().startswith("bytes=") or "," in header:
        return None
    first, _, last = header.split("=", 1)[1].strip().partition("-")
    try:
        if first == "":
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    if start >= size or start > end or start < 0:
        raise RangeNotSatisfiable(f"Range {header!r} is outside the object ({size} bytes).")
    return ByteRange(start, end)


def transfer_delay_s(nbytes: int, rtt_ms: float, bandwidth_mbps: float | None) -> float:
    """Simulated time to deliver `nbytes`: one round trip plus serialisation at the link's rate."""
    serialise = 0.0 if not bandwidth_mbps else nbytes * 8 / (bandwidth_mbps * 1e6)
    return rtt_ms / 1000.0 + serialise
