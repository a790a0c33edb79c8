"""A one-line live progress bar for terminals: overall %, chunks done/total, speed, ETA."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from server.jobs.progress import JobProgress

REPAINT_S = 0.1


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render(name: str, p: JobProgress, width: int) -> str:
    """The bar line for one snapshot, fitted to `width` columns."""
    stats = f" {p.fraction * 100:5.1f}%"
    if p.chunks_total:
        stats += f"  chunks {p.chunks_done}/{p.chunks_total}"
    if p.speed > 0:
        stats += f"  {p.speed:.2f}x"
    stats += f"  ETA {format_eta(p.eta_s)}" if p.stage == "encoding" else f"  {p.stage}"
    label = name if len(name) <= 24 else name[:21] + "..."
    bar_width = max(10, width - len(label) - len(stats) - 4)
    filled = int(bar_width * p.fraction)
    return f"{label} [{'#' * filled}{'-' * (bar_width - filled)}]{stats}"[:width]


class ProgressBar:
    """Repaints at most every 100 ms on a terminal; prints nothing when not a terminal."""

    def __init__(self, name: str, stream: TextIO = sys.stderr) -> None:
        self.name, self.stream = name, stream
        self.enabled = stream.isatty()
        self._last = 0.0

    def update(self, progress: JobProgress) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < REPAINT_S:
            return
        self._last = now
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r" + render(self.name, progress, width))
        self.stream.flush()

    def close(self, message: str) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
        self.stream.write(message + "\n")
        self.stream.flush()
