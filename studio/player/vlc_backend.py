"""python-vlc backend: libvlc plays the HLS stream, drawing into a native child widget.

VLC is embedded with the window id of that widget only where Qt has real native windows (xcb,
Windows, macOS); on `offscreen` (tests) `set_xwindow` would crash, so video and audio go to VLC's
dummy outputs instead.

libvlc's stop joins the stream's threads, and VLC 3's HLS downloader does not give up a read that the
server never answers: a stop on the GUI thread froze the window whenever an edge stalled. So a media
player is never stopped there; each load gets a fresh one and the old one is stopped and freed on a
worker thread (waited for briefly, so a normal stop still finishes before the call returns).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import vlc
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from studio.player.backend import (
    BUFFERING,
    ENDED,
    ERROR,
    IDLE,
    OPENING,
    PAUSED,
    PLAYING,
    MediaStats,
    PlaybackBackend,
)

NATIVE_PLATFORMS = ("xcb", "windows", "cocoa")
BASE_ARGS = ("--no-video-title-show", "--quiet", "--network-caching=1000", "--no-snapshot-preview")
HEADLESS_ARGS = ("--aout=dummy", "--vout=dummy")
RELEASE_WAIT_S = 1.0  # how long the GUI thread waits for libvlc to let go of a stream it stops
STATES = {
    vlc.State.NothingSpecial: IDLE, vlc.State.Opening: OPENING, vlc.State.Buffering: BUFFERING,
    vlc.State.Playing: PLAYING, vlc.State.Paused: PAUSED, vlc.State.Stopped: IDLE,
    vlc.State.Ended: ENDED, vlc.State.Error: ERROR,
}


def native_video() -> bool:
    """True when Qt gives us a real window id VLC can draw into."""
    return QGuiApplication.platformName() in NATIVE_PLATFORMS


class VlcBackend(PlaybackBackend):
    """libvlc media player; raises at construction when libvlc cannot start (caller falls back)."""

    name = "vlc"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        args = BASE_ARGS if native_video() else BASE_ARGS + HEADLESS_ARGS
        self.instance: Any = vlc.Instance(list(args))
        if self.instance is None:
            raise RuntimeError("libvlc.Instance failed (see VLC's messages above)")
        self.version = vlc.libvlc_get_version().decode(errors="replace").split(" ")[0]
        self.surface: QWidget | None = None
        self._cache_pct = 0.0
        self._stats = vlc.MediaStats()
        self._volume: int | None = None  # the viewer's choice, carried over to every fresh player
        self.player: Any = None
        self._events: Any = None  # kept: python-vlc's callback dies with its EventManager object
        self._fresh_player()

    def _fresh_player(self) -> None:
        """Swap in a new idle media player; the old one is stopped and freed off the GUI thread."""
        old, old_events = self.player, self._events
        self.player = self.instance.media_player_new()
        self._events = self.player.event_manager()
        self._events.event_attach(vlc.EventType.MediaPlayerBuffering, self._on_buffering)
        if self._volume is not None:
            self.player.audio_set_volume(self._volume)
        if old is not None:
            retire(old, old_events)

    def _on_buffering(self, event: Any) -> None:
        # Runs on a VLC thread: a plain float assignment, read by the GUI-thread poll.
        self._cache_pct = float(event.u.new_cache)

    def create_surface(self, parent: QWidget) -> QWidget:
        surface = QWidget(parent)
        surface.setAttribute(Qt.WidgetAttribute.WA_NativeWindow, native_video())
        surface.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        surface.setStyleSheet("background: black;")
        self.surface = surface
        return surface

    def _embed(self) -> None:
        if self.surface is None or not native_video():
            return
        handle = int(self.surface.winId())
        if sys.platform.startswith("win"):
            self.player.set_hwnd(handle)
        elif sys.platform == "darwin":
            self.player.set_nsobject(handle)
        else:
            self.player.set_xwindow(handle)

    def load(self, url: str, start_s: float = 0.0, audio_url: str = "") -> None:
        if self.instance is None:   # closed: a steering answer that arrived after the player shut down
            return
        self.source = url
        media = self.instance.media_new(url)
        if start_s > 0:
            media.add_option(f":start-time={start_s:.3f}")
        if audio_url:
            media.add_option(f":input-slave={audio_url}")
        self._cache_pct = 0.0
        self._fresh_player()
        self.player.set_media(media)
        self._embed()
        self.player.play()
        self.start_polling()

    def play(self) -> None:
        if self.player.get_state() == vlc.State.Ended:  # VLC also "ends" a stream that stopped coming
            media = self.player.get_media()
            self._fresh_player()
            self.loads += 1  # a fresh player: its tracks are chosen again
            self.player.set_media(media)
            self._embed()
        self.player.play()

    def pause(self) -> None:
        self.player.set_pause(1)

    def stop(self) -> None:
        self._fresh_player()

    def seek(self, seconds: float) -> None:
        self.player.set_time(int(max(0.0, seconds) * 1000))

    def set_volume(self, percent: int) -> None:
        self._volume = max(0, min(100, int(percent)))
        self.player.audio_set_volume(self._volume)

    def sample(self) -> MediaStats:
        if self.player is None:
            return MediaStats()
        media = self.player.get_media()
        if media is not None:
            media.get_stats(self._stats)
        size = self._video_size() if media is not None else (0, 0)
        return MediaStats(
            state=STATES.get(self.player.get_state(), IDLE),
            position_s=max(0, self.player.get_time()) / 1000.0,
            duration_s=max(0, self.player.get_length()) / 1000.0,
            buffer_pct=self._cache_pct, dropped_frames=int(self._stats.lost_pictures),
            decoded_frames=int(self._stats.decoded_video), read_bytes=int(self._stats.demux_read_bytes),
            video_size=size)

    def _video_size(self) -> tuple[int, int]:
        try:
            width, height = self.player.video_get_size(0)
        except vlc.VLCException:  # no video track yet
            return (0, 0)
        return (int(width), int(height))

    # --- tracks: VLC's adaptive demuxer offers the master's alternate audio and WebVTT renditions ---

    def audio_tracks(self) -> list[tuple[int, str]]:
        return _described(self.player.audio_get_track_description() if self.player else [])

    def subtitle_tracks(self) -> list[tuple[int, str]]:
        return _described(self.player.video_get_spu_description() if self.player else [])

    def active_audio(self) -> int:
        return int(self.player.audio_get_track()) if self.player else -1

    def active_subtitle(self) -> int:
        return int(self.player.video_get_spu()) if self.player else -1

    def set_audio_track(self, track_id: int) -> None:
        if self.player is not None:
            self.player.audio_set_track(track_id)

    def set_subtitle_track(self, track_id: int) -> None:
        if self.player is not None:
            self.player.video_set_spu(track_id)

    def close(self) -> None:
        """Stop and free libvlc's player (idempotent: the view may close after an explicit shutdown).
        The instance is released here; libvlc frees it once a stopping player lets go of it."""
        super().close()
        if self.player is None:
            return
        retire(self.player, self._events)
        self.instance.release()
        self.player = self.instance = self._events = None


def _described(found: Any) -> list[tuple[int, str]]:
    """VLC's (id, bytes) track descriptions without its `Disable` entry (id -1)."""
    return [(int(i), name.decode(errors="replace") if isinstance(name, bytes) else str(name))
            for i, name in found or [] if i != -1]


def retire(player: Any, events: Any, wait_s: float = RELEASE_WAIT_S) -> bool:
    """Stop and release `player` on a worker thread, waiting at most `wait_s` for it; True when it
    finished. A stream stuck on an unanswered request is left to end on its own (see the module doc)."""
    events.event_detach(vlc.EventType.MediaPlayerBuffering)
    worker = threading.Thread(target=_stop_and_release, args=(player,), name="vlc-release", daemon=True)
    worker.start()
    worker.join(wait_s)
    return not worker.is_alive()


def _stop_and_release(player: Any) -> None:
    player.stop()
    player.release()
