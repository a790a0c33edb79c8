"""Parse ffmpeg's `-progress pipe:1` output: key=value lines, a block ends with `progress=`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressUpdate:
    """One progress block: output time so far, frames, speed, and whether ffmpeg finished."""

    out_time_s: float
    frame: int
    speed: float
    done: bool


class ProgressParser:
    """Feed lines; returns a ProgressUpdate at the end of each block, else None."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> ProgressUpdate | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        if key != "progress":
            self._fields[key] = value.strip()
            return None
        fields = self._fields
        update = ProgressUpdate(out_time_s=_out_time(fields), frame=_int(fields, "frame"),
                                speed=_speed(fields.get("speed", "")), done=value == "end")
        self._fields = {}
        return update


def _out_time(fields: dict[str, str]) -> float:
    raw = fields.get("out_time_us") or fields.get("out_time_ms")  # both are microseconds
    try:
        return max(0.0, int(raw) / 1_000_000) if raw and raw != "N/A" else 0.0
    except ValueError:
        return 0.0


def _int(fields: dict[str, str], key: str) -> int:
    try:
        return int(fields.get(key, "0"))
    except ValueError:
        return 0


def _speed(raw: str) -> float:
    try:
        return float(raw.rstrip("x")) if raw and raw != "N/A" else 0.0
    except ValueError:
        return 0.0
