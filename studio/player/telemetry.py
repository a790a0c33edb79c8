"""Playback telemetry: turns backend samples into `playback` events and posts them in batches.

Startup time, stalls, bytes per interval and watch time are measured here from what the backend
reports each poll; events go to `POST /api/telemetry` at most every `FLUSH_MS` (one request per
batch) and at once when the session stops, so analytics sees the session end without waiting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from studio.player.backend import BUFFERING, PLAYING, MediaStats

FLUSH_MS = 2000
STALL_AFTER_S = 0.5     # position frozen this long while playing = a stall (rebuffering)
SEGMENT_EVERY_S = 2.0   # bytes read are reported in intervals of about this length


@dataclass
class Context:
    """Where the session plays from right now; copied into every event."""

    session_id: str
    video_id: str
    edge: str = ""
    region: str = ""
    rendition: str = ""
    bitrate: int = 0


class TelemetryReporter(QObject):
    """QoE measurement for one playback session, and the batched sender for its events."""

    sent = Signal(int)  # how many events the server accepted in one batch

    def __init__(self, client: Any, context: Context, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.context = context
        self.queue: list[dict[str, Any]] = []
        self.opened_at = time.monotonic()
        self.started = False
        self.stopped = False
        self.in_flight = 0  # batches posted and not yet answered
        self.watched_s = 0.0
        self._last: tuple[float, float] | None = None  # (monotonic, position) of the last advance
        self._stall_from: float | None = None
        self._bytes_mark: tuple[float, int] = (self.opened_at, 0)
        self._flush = QTimer(self, interval=FLUSH_MS)
        self._flush.timeout.connect(self.flush)
        self._flush.start()

    def record(self, kind: str, **fields: Any) -> None:
        """Queue one `playback` event with the session's current context."""
        if self.stopped:
            return
        c = self.context
        self.queue.append({"type": kind, "session_id": c.session_id, "video_id": c.video_id,
                           "at": time.time(), "edge": c.edge, "region": c.region,
                           "rendition": c.rendition, "bitrate": c.bitrate, **fields})

    def observe(self, stats: MediaStats) -> None:
        """One backend sample: detects the first frame, stalls, watch time and bytes read."""
        now = time.monotonic()
        if stats.state == PLAYING and stats.position_s > 0 and not self.started:
            self.started = True
            self.record("started", startup_ms=round((now - self.opened_at) * 1000, 1))
        if not self.started:
            return
        self._track_progress(now, stats)
        self._track_bytes(now, stats.read_bytes)

    def _track_progress(self, now: float, stats: MediaStats) -> None:
        if self._last is None or stats.position_s != self._last[1]:
            if self._last is not None and stats.position_s > self._last[1]:
                self.watched_s += min(stats.position_s - self._last[1], now - self._last[0] + 0.5)
            self._end_stall(now)
            self._last = (now, stats.position_s)
        elif stats.state in (PLAYING, BUFFERING) and now - self._last[0] >= STALL_AFTER_S:
            self._stall_from = self._stall_from or self._last[0]

    def _end_stall(self, now: float) -> None:
        if self._stall_from is not None:
            self.record("stall", duration_ms=round((now - self._stall_from) * 1000, 1))
            self._stall_from = None

    @property
    def stalled(self) -> float:
        """Seconds the current stall has lasted (0 when playing smoothly)."""
        return 0.0 if self._stall_from is None else time.monotonic() - self._stall_from

    def _track_bytes(self, now: float, read_bytes: int) -> None:
        since, mark = self._bytes_mark
        if read_bytes < mark:  # a reload (re-steer, rung change) starts a new media with new counters
            self._bytes_mark = (now, read_bytes)
        elif now - since >= SEGMENT_EVERY_S and read_bytes > mark:
            self.record("segment", bytes=read_bytes - mark, ms=round((now - since) * 1000, 1))
            self._bytes_mark = (now, read_bytes)

    def switch(self, old: str, new: str) -> None:
        if old != new and self.started:
            self.record("quality_switch", **{"from": old, "to": new})

    def reloaded(self) -> None:
        """The media was opened again (re-steer or rung change): counters restart at zero."""
        self._bytes_mark = (time.monotonic(), 0)
        self._last = None

    def stop(self, position_s: float, duration_s: float) -> None:
        """End of the session: a `stopped` event (if it ever started) and a final flush."""
        self._end_stall(time.monotonic())
        if self.started:
            self.record("stopped", watched_s=round(self.watched_s, 3), position_s=round(position_s, 3),
                       duration_s=round(duration_s, 3))
        self.flush()
        self.stopped = True
        self._flush.stop()

    def flush(self) -> None:
        if not self.queue:
            return
        batch, self.queue = self.queue, []
        self.in_flight += 1
        self.client.post("/api/telemetry", {"events": batch}, on_ok=self._accepted, on_error=self._failed)

    def _accepted(self, reply: dict[str, Any] | None) -> None:
        self.in_flight -= 1
        self.sent.emit(int((reply or {}).get("published", 0)))

    def _failed(self, text: str) -> None:
        self.in_flight -= 1
        self.client.error.emit(f"Telemetry not recorded: {text}")
