"""One playback session: steering → edge → backend, rung choice, re-steering and live stats.

The session asks `GET /steer` for the ranked edges (shown with their reasons), then plays
`/play/<id>/master.m3u8?<location>` (the server's request router then sends each segment to the edge
that is best at that moment, so an edge stop costs no frame), or for a fixed rung the steered edge's
media playlist. When the edge goes down (a `cdn` health event), playback
errors, stalls or ends early, it steers again and continues from the last position.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal

from studio.player.backend import ENDED, ERROR, IDLE, PLAYING, MediaStats, PlaybackBackend
from studio.player.telemetry import Context, TelemetryReporter

AUTO = "auto"
RESTEER_STALL_S = 3.0      # a stall this long on one edge: try the next one
RESTEER_MIN_GAP_S = 2.0    # never re-steer more often than this (an edge flapping, every edge down)
RETRY_MS = 2000
END_SLACK_S = 1.0          # ENDED this far before the duration means the stream broke off
CLOSE_WAIT_MS = 1000       # at most this long for the final telemetry batch when closing
SEGMENT = re.compile(r"/cmaf/([^/]+)/seg_\d+\.m4s$")   # a media segment's key names its rung


class PlaybackSession(QObject):
    """Controller between the player view (intent in, state out) and a playback backend."""

    ranked_changed = Signal(list)     # GET /steer's "ranked" list (dicts with edge, rank, reasons, …)
    stats_changed = Signal(dict)      # see `stats()`
    position_changed = Signal(float, float)  # position, duration (s)
    state_changed = Signal(str)
    message = Signal(str)             # a sentence for the status line (re-steers, errors)

    def __init__(self, client: Any, backend: PlaybackBackend, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.backend = backend
        self.title: dict[str, Any] | None = None
        self.location: dict[str, str] = {}
        self.rung = AUTO
        self.edge = ""
        self.position_s = 0.0
        self.duration_s = 0.0
        self.counts: dict[str, list[int]] = {}   # edge -> [hits, misses] for this title, this session
        self.telemetry: TelemetryReporter | None = None
        self.last_stats = MediaStats()
        self._last_steer = 0.0
        self._load_tag = ""     # `session` of the last /play load: the edge's events for it name the edge
        self._tag = ""          # the same tag, kept for the whole load: its segment requests name the rung
        self._fetched_rung = False   # this load's segment requests have named its rung
        self._loads = 0
        self._reason = ""  # why the re-steer waiting on `_retry` is needed
        self._retry = QTimer(self, singleShot=True, interval=RETRY_MS)
        self._retry.timeout.connect(lambda: self.resteer(self._reason or "retry"))
        backend.stats_changed.connect(self._on_stats)
        backend.state_changed.connect(self._on_state)
        backend.failed.connect(lambda text: self.resteer(f"playback error: {text}"))

    # --- intent from the view -----------------------------------------------------------------------

    def open(self, title: dict[str, Any], start_s: float = 0.0) -> None:
        """Start a new session on `title` from `start_s` (the beginning by default)."""
        self._end_session()
        self.title, self.rung, self.position_s, self.counts = title, AUTO, max(0.0, start_s), {}
        self.duration_s = float(title.get("duration") or 0.0)
        context = Context(uuid.uuid4().hex[:16], title["video_id"], region=self.location.get("region", ""))
        self.telemetry = TelemetryReporter(self.client, context, self)
        self._steer("opened")

    def set_location(self, location: dict[str, str]) -> None:
        """`{"region": "eu-west"}` or `{"latlon": "51.5,-0.1"}` or `{}`; steers again from the position."""
        self.location = dict(location)
        if self.telemetry is not None:
            self.telemetry.context.region = location.get("region", "")
        if self.title is not None:
            self._steer("viewer location changed")

    def set_rung(self, rung: str) -> None:
        """`auto` or a rendition name: reload through the current steering, keeping the position."""
        if rung == self.rung or self.title is None:
            return
        old, self.rung = self.rung, rung
        if rung != AUTO and self.telemetry is not None:
            self.telemetry.switch(self.telemetry.context.rendition or old, rung)
            self._set_rendition(rung)
        self._steer(f"quality {rung}")

    def resteer(self, reason: str) -> None:
        """Ask steering again and continue from the last position (edge down, error, stall)."""
        if self.title is None or self.telemetry is None or self.telemetry.stopped:
            return
        wait = RESTEER_MIN_GAP_S - (time.monotonic() - self._last_steer)
        if wait > 0:
            self._reason = reason
            self._retry.start(int(wait * 1000))
            return
        self._reason = ""
        self.message.emit(f"Re-steering from {self.edge or 'no edge'}: {reason}")
        self._steer(reason)

    def play(self) -> None:
        if self.telemetry is not None and self.telemetry.stopped and self.title is not None:
            self.open(self.title)
        else:
            self.backend.play()

    def pause(self) -> None:
        self.backend.pause()

    def toggle(self) -> None:
        self.pause() if self.backend.last.state == PLAYING else self.play()

    def seek(self, seconds: float) -> None:
        self.position_s = seconds
        self.backend.seek(seconds)

    def skip(self, delta_s: float) -> None:
        self.seek(min(max(0.0, self.position_s + delta_s), max(0.0, self.duration_s - 0.5)))

    def set_volume(self, percent: int) -> None:
        self.backend.set_volume(percent)

    def close(self, wait_ms: int = CLOSE_WAIT_MS) -> None:
        """End the session; the window is closing, so wait (bounded) until the server has the last
        telemetry batch rather than let the client's shutdown abort it."""
        self._end_session()
        self.backend.stop()
        self.title = None  # a steering answer still on its way must not load into a released player
        telemetry = self.telemetry
        if telemetry is None or not telemetry.in_flight:
            return
        loop, check = QEventLoop(), QTimer(self, interval=20)

        def answered() -> None:
            if not telemetry.in_flight:
                loop.quit()

        check.timeout.connect(answered)
        QTimer.singleShot(wait_ms, loop.quit)
        check.start()
        loop.exec()
        check.stop()

    # --- steering -----------------------------------------------------------------------------------

    def _steer(self, reason: str) -> None:
        assert self.title is not None
        self._last_steer = time.monotonic()
        video_id = self.title["video_id"]
        self.client.get(f"/steer/{video_id}", params=self.location,
                        on_ok=lambda doc: self._steered(video_id, doc, reason),
                        on_error=lambda text: self._steer_failed(video_id, text))

    def _steered(self, video_id: str, doc: dict[str, Any], reason: str) -> None:
        if self.title is None or self.title["video_id"] != video_id:
            return  # an answer for a title no longer open
        ranked = doc.get("ranked", [])
        self.ranked_changed.emit(ranked)
        best = next((r for r in ranked if r.get("eligible") and r.get("url")), None)
        if best is None:
            return self._steer_failed(video_id, "every edge is down")
        old, self.edge = self.edge, best["edge"]
        if self.telemetry is not None:
            self.telemetry.context.edge = self.edge
            self.telemetry.reloaded()
        if old and old != self.edge:
            self.message.emit(f"Now playing from {self.edge} (was {old}): {reason}")
        self._loads += 1
        session_id = self.telemetry.context.session_id if self.telemetry is not None else "viewer"
        self._load_tag = self._tag = f"{session_id}.{self._loads}"
        self._fetched_rung = False
        url, audio = self._urls(video_id, best["url"])
        self.backend.load(url, self.position_s, audio)

    def _urls(self, video_id: str, edge_master: str) -> tuple[str, str]:
        """Auto: `/play` (through the request router); a rung: the steered edge's media playlist (+ audio)."""
        if self.rung == AUTO:
            where = {**self.location, "session": self._load_tag}
            return self.client.qurl(f"/play/{video_id}/master.m3u8", where).toString(), ""
        base = edge_master.rsplit("/", 1)[0]
        audio = f"{base}/cmaf/audio/playlist.m3u8" if (self.title or {}).get("audio") else ""
        return f"{base}/cmaf/{self.rung}/playlist.m3u8", audio

    def _steer_failed(self, video_id: str, text: str) -> None:
        if self.title is not None and self.title["video_id"] == video_id:
            self.message.emit(f"Cannot steer: {text}; retrying")
            self._reason = f"retry after: {text}"
            self._retry.start(RETRY_MS)

    # --- backend state ------------------------------------------------------------------------------

    def _on_state(self, state: str) -> None:
        self.state_changed.emit(state)
        if state == ERROR:
            self.resteer(f"playback error on {self.edge}")
        elif state == ENDED:
            if self.duration_s and self.position_s < self.duration_s - END_SLACK_S:
                self._check_early_end(self.edge, self.position_s)
            else:
                self._end_session()

    def _check_early_end(self, edge: str, position_s: float) -> None:
        """VLC ends a stream whose segments stop coming; if the edge is down that was no real end."""
        def answer(report: dict[str, Any] | None) -> None:
            if edge != self.edge:
                return
            if (report or {}).get("healthy", False):
                self._end_session()
            else:
                self.resteer(f"stream from {edge} broke off at {position_s:.1f} s")
        self.client.get(f"/api/edges/{edge}", on_ok=answer, on_error=lambda _text: answer(None))

    def _on_stats(self, stats: MediaStats) -> None:
        self.last_stats = stats
        if stats.position_s > 0 and stats.state not in (IDLE, ENDED):
            self.position_s = stats.position_s
        self.duration_s = stats.duration_s or self.duration_s
        self.position_changed.emit(self.position_s, self.duration_s)
        if self.telemetry is not None and not self.telemetry.stopped:
            self.telemetry.observe(stats)
            if not self._fetched_rung:   # until the edge names the rung (VLC's size is the playlist's)
                self._follow_rung(self._rung_for_height(stats.video_size[1]))
            if self.telemetry.stalled >= RESTEER_STALL_S:
                self.resteer(f"stalled {self.telemetry.stalled:.0f} s on {self.edge}")
        self.stats_changed.emit(self.stats())

    def _follow_rung(self, rung: str) -> None:
        """In Auto, the rung is the one whose segments the player fetches (before the first, whichever
        rendition's height is on screen); a change is a quality switch."""
        if self.telemetry is None:
            return
        current = self.telemetry.context.rendition
        if rung and rung != current and self.rung == AUTO:
            if current:
                self.telemetry.switch(current, rung)
            self._set_rendition(rung)

    def _rung_for_height(self, height: int) -> str:
        renditions = (self.title or {}).get("renditions") or []
        return next((r["name"] for r in renditions if height and r.get("height") == height), "")

    def _set_rendition(self, rung: str) -> None:
        assert self.telemetry is not None
        renditions = {r["name"]: r for r in (self.title or {}).get("renditions") or []}
        self.telemetry.context.rendition = rung
        self.telemetry.context.bitrate = int(renditions.get(rung, {}).get("bandwidth", 0))

    def on_events(self, events: list[dict[str, Any]]) -> None:
        """`cdn` events: count this title's hits/misses per edge; the current edge going down re-steers."""
        video_id = (self.title or {}).get("video_id")
        for event in events:
            value = event.get("value", {})
            if event.get("topic") != "cdn" or video_id is None:
                continue
            if value.get("type") in ("hit", "miss") and value.get("video_id") == video_id:
                self.counts.setdefault(value.get("edge", ""), [0, 0])[value["type"] == "miss"] += 1
                self._served_by(value)
                self._fetched(value)
            elif value.get("type") == "health" and value.get("edge") == self.edge \
                    and value.get("healthy") is False:
                self.resteer(f"edge {self.edge} went down")

    def _fetched(self, value: dict[str, Any]) -> None:
        """A video segment this load asked an edge for names the rung the player chose. VLC reports
        the size the master playlist declares (its last variant's) rather than what it decodes, so in
        Auto its requests are the truth; they run a few segments ahead of the picture."""
        if not self._tag or value.get("session") != self._tag:
            return
        found = SEGMENT.search(str(value.get("object", "")))
        names = {r.get("name") for r in (self.title or {}).get("renditions") or []}
        if found and found[1] in names:
            self._fetched_rung = True
            before = self.telemetry.context.rendition if self.telemetry is not None else ""
            self._follow_rung(found[1])
            if found[1] != before:
                self.stats_changed.emit(self.stats())

    def _served_by(self, value: dict[str, Any]) -> None:
        """The first request of the current load names the edge VLC really reached through /play's
        302 (steering may break a tie differently between /steer and /play); trust it. Only this
        load's tag counts: the player being released may still fetch from the old edge."""
        if not self._load_tag or value.get("session") != self._load_tag:
            return
        self._load_tag = ""
        edge = value.get("edge", "")
        if edge and edge != self.edge:
            self.message.emit(f"Playing from {edge} (steering's redirect chose it over {self.edge})")
            self.edge = edge
            if self.telemetry is not None:
                self.telemetry.context.edge = edge

    def stats(self) -> dict[str, Any]:
        """What the overlay shows (and tests read)."""
        s, context = self.last_stats, self.telemetry.context if self.telemetry else None
        hits, misses = self.counts.get(self.edge, [0, 0])
        return {"edge": self.edge, "rung": context.rendition if context else "", "mode": self.rung,
                "bitrate": context.bitrate if context else 0, "buffer_pct": s.buffer_pct,
                "dropped_frames": s.dropped_frames, "hits": hits, "misses": misses, "state": s.state,
                "position_s": self.position_s, "duration_s": self.duration_s, "size": self._picture_size(s),
                "session_id": context.session_id if context else ""}

    def _picture_size(self, stats: MediaStats) -> tuple[int, int]:
        """The rung's own size once its segments name it (VLC reports the playlist's last variant),
        else what the backend reports."""
        rung = self.telemetry.context.rendition if self._fetched_rung and self.telemetry else ""
        found = next((r for r in (self.title or {}).get("renditions") or [] if r.get("name") == rung), None)
        return (int(found["width"]), int(found["height"])) if found else stats.video_size

    def _end_session(self) -> None:
        if self.telemetry is not None and not self.telemetry.stopped:
            self.telemetry.stop(self.position_s, self.duration_s)
