"""Numbers as people read them: durations, speeds, ETAs, sizes."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """`0:04`, `12:05`, `1:02:03`; an em dash when unknown."""
    if seconds is None or seconds < 0:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def eta(seconds: float | None) -> str:
    return "—" if seconds is None else f"{duration(seconds)} left"


def speed(factor: float | None) -> str:
    """Encode speed as a multiple of real time (`2.4x realtime`)."""
    return "—" if not factor else f"{factor:.1f}x realtime"


def size(num_bytes: float) -> str:
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def top_rung(renditions: list[dict]) -> str:
    """The tallest rendition's name (`1080p`), or an em dash for audio-only titles."""
    video = [r for r in renditions if r.get("height")]
    return max(video, key=lambda r: r["height"])["name"] if video else "—"
