"""Small pure pieces of HTTP serving shared by the edges: MIME types, Range, simulated link delay."""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.errors import MiniflixError

RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.ASCII | re.IGNORECASE)


class RangeNotSatisfiable(MiniflixError):
    """A Range header that asks for bytes the object does not have."""

    status = 416

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message)
        self.size = size


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

    Headers that are not one such range (other units, multi-range, junk) are ignored, as RFC 9110
    allows: the answer is the whole object. A range outside the object raises RangeNotSatisfiable.
    """
    found = RANGE.fullmatch(header.strip()) if header else None
    if found is None or not (found[1] or found[2]):
        return None
    if not found[1]:                                  # the last n bytes
        start, end = max(0, size - _number(found[2])), size - 1
    else:
        start = _number(found[1])
        end = min(_number(found[2]), size - 1) if found[2] else size - 1
    if start >= size or start > end:
        shown = header if len(header or "") <= 80 else f"{(header or '')[:80]}…"
        raise RangeNotSatisfiable(f"Range {shown!r} is outside the object ({size} bytes).", size=size)
    return ByteRange(start, end)


def _number(digits: str) -> int:
    """A byte position; absurdly long ones are just "past any object" (int() refuses > 4300 digits)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else 10**18


def transfer_delay_s(nbytes: int, rtt_ms: float, bandwidth_mbps: float | None) -> float:
    """Simulated time to deliver `nbytes`: one round trip plus serialisation at the link's rate."""
    serialise = 0.0 if not bandwidth_mbps else nbytes * 8 / (bandwidth_mbps * 1e6)
    return rtt_ms / 1000.0 + serialise
