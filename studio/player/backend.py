"""The playback backend interface: the player drives one of these and only listens to its signals.

Two implementations exist: python-vlc (the real one, embedded in a native widget) and QtMultimedia
(when libvlc is missing). Both are polled on the GUI thread every `POLL_MS`: VLC's own callbacks run
on VLC threads, and polling keeps every signal on the GUI thread without locks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

POLL_MS = 200

IDLE, OPENING, BUFFERING, PLAYING, PAUSED, ENDED, ERROR = (
    "idle", "opening", "buffering", "playing", "paused", "ended", "error")
BACKEND_ENV = "MINIFLIX_PLAYER_BACKEND"  # "vlc" (default, falls back) or "qt" (force QtMultimedia)


@dataclass(frozen=True)
class MediaStats:
    """What the backend knows about the media being played (seconds, percent, counts)."""

    state: str = IDLE
    position_s: float = 0.0
    duration_s: float = 0.0
    buffer_pct: float = 0.0
    dropped_frames: int = 0
    decoded_frames: int = 0
    read_bytes: int = 0
    video_size: tuple[int, int] = field(default=(0, 0))


class PlaybackBackend(QObject):
    """One media player. `load` a URL, then play/pause/seek; state comes back through the signals."""

    state_changed = Signal(str)
    position_changed = Signal(float)
    stats_changed = Signal(object)  # MediaStats, every poll while something is loaded
    failed = Signal(str)

    name = "none"
    # What the Audio / Subtitles menus say this backend cannot do ("" when it does it all).
    track_note = ""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.last = MediaStats()
        self.source = ""  # the URL last loaded
        self.loads = 0    # counts loads: each starts a fresh stream whose tracks need choosing again
        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self._tick)

    # --- what a backend implements ------------------------------------------------------------------

    def create_surface(self, parent: QWidget) -> QWidget:
        """The widget the video is drawn into (the player view puts it in its layout)."""
        raise NotImplementedError

    def load(self, url: str, start_s: float = 0.0, audio_url: str = "") -> None:
        """Open `url` (HLS master or media playlist) from `start_s`; `audio_url`: separate audio playlist."""
        raise NotImplementedError

    def play(self) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def seek(self, seconds: float) -> None:
        raise NotImplementedError

    def set_volume(self, percent: int) -> None:
        raise NotImplementedError

    def sample(self) -> MediaStats:
        """The current state and counters, read from the media library."""
        raise NotImplementedError

    def audio_tracks(self) -> list[tuple[int, str]]:
        """(id, description) of each audio track the media library found; none by default."""
        return []

    def subtitle_tracks(self) -> list[tuple[int, str]]:
        """(id, description) of each subtitle track; none by default."""
        return []

    def active_audio(self) -> int:
        """The id of the audio track playing (-1: none)."""
        return -1

    def active_subtitle(self) -> int:
        """The id of the subtitle track shown (-1: none)."""
        return -1

    def set_audio_track(self, track_id: int) -> None:
        """Switch to the audio track `track_id` (an id from `audio_tracks`)."""

    def set_subtitle_track(self, track_id: int) -> None:
        """Show the subtitle track `track_id` over the picture; -1 hides subtitles."""

    def close(self) -> None:
        self._poll.stop()

    # --- shared polling -----------------------------------------------------------------------------

    def toggle(self) -> None:
        self.pause() if self.last.state == PLAYING else self.play()

    def start_polling(self) -> None:
        self.loads += 1
        self.last = replace(MediaStats(), state=OPENING)
        self.state_changed.emit(OPENING)
        self._poll.start()

    def _tick(self) -> None:
        now, before = self.sample(), self.last
        self.last = now
        if now.state != before.state:
            self.state_changed.emit(now.state)
        if abs(now.position_s - before.position_s) > 1e-3:
            self.position_changed.emit(now.position_s)
        self.stats_changed.emit(now)


def create_backend(parent: QObject | None = None) -> tuple[PlaybackBackend, str]:
    """python-vlc when libvlc loads, else QtMultimedia; the text says which and why (for the status bar)."""
    if os.environ.get(BACKEND_ENV, "vlc").lower() != "qt":
        try:
            from studio.player.vlc_backend import VlcBackend
            backend = VlcBackend(parent)
            return backend, f"Playback: VLC {backend.version}"
        except (Exception, SystemExit) as exc:  # python-vlc calls sys.exit(1) when libvlc won't load
            reason = f"libvlc unavailable ({exc or 'it failed to load'})"
    else:
        reason = f"{BACKEND_ENV}=qt"
    from studio.player.qt_backend import QtBackend
    return QtBackend(parent), f"Playback: QtMultimedia — {reason}"
