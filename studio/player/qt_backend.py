"""QtMultimedia backend: plays HLS with QMediaPlayer when libvlc is missing.

It cannot add a separate audio playlist to a media playlist, so a fixed rung plays without sound;
Auto (the master playlist) has both. Dropped frames are not reported by QMediaPlayer (shown as 0).
Tracks: `audioTracks`/`subtitleTracks` list what Qt's FFmpeg demuxer exposes of the master's
renditions (often only the default audio and no WebVTT playlist); the menus say so.

Every call that changes the player's state goes through `QMetaObject.invokeMethod`, which releases
Python's GIL for the call; PySide6's own `stop()`, `play()`, `setPosition()` keep holding it. Holding
it froze the window: stopping tears down FFmpeg's audio renderer on its own thread, whose destructor
holds a Qt connection lock while it asks Python (the GIL) about the Python-made QAudioOutput, while
`stop()` on the GUI thread holds the GIL and waits for that lock. That renderer asks Python only
until shiboken has cached "no Python override" for the output, so the backend has it cached at once
on the GUI thread; otherwise any connect made on the GUI thread in the moment after a stop could
freeze the same way. Closing also clears the source, so a load still reading over HTTP is cancelled
and FFmpeg's threads are joined there, GIL-free, and the player's destructor has nothing left to wait
for.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Q_ARG, QMetaObject, QObject, Qt, QUrl
from PySide6.QtMultimedia import QAudioOutput, QMediaMetaData, QMediaPlayer
from PySide6.QtMultimediaWidgets import QVideoWidget
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

Status = QMediaPlayer.MediaStatus
Playback = QMediaPlayer.PlaybackState


class QtBackend(PlaybackBackend):
    """QMediaPlayer + QAudioOutput, drawn into a QVideoWidget."""

    name = "qt"
    track_note = ("QtMultimedia shows only the tracks its FFmpeg demuxer exposes (HLS alternate audio "
                  "and WebVTT playlists are often missing); install VLC for every track and captions.")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.player = QMediaPlayer(self)
        self.audio = QAudioOutput(self)
        self.player.setAudioOutput(self.audio)
        _cache_no_python_override(self.audio, self.player)
        self.version = "QtMultimedia"
        self._start_s = 0.0
        self.player.errorOccurred.connect(lambda _err, text: self.failed.emit(text))
        self.player.mediaStatusChanged.connect(self._status)

    def create_surface(self, parent: QWidget) -> QWidget:
        surface = QVideoWidget(parent)
        self.player.setVideoOutput(surface)
        return surface

    def load(self, url: str, start_s: float = 0.0, audio_url: str = "") -> None:
        self.source = url
        self._start_s = start_s
        _call(self.player, "setSource", Q_ARG(QUrl, QUrl(url)))
        _call(self.player, "play")
        self.start_polling()

    def _status(self, status: Status) -> None:
        if status == Status.BufferedMedia and self._start_s > 0:
            start, self._start_s = self._start_s, 0.0
            self.seek(start)

    def play(self) -> None:
        _call(self.player, "play")

    def pause(self) -> None:
        _call(self.player, "pause")

    def stop(self) -> None:
        _call(self.player, "stop")

    def seek(self, seconds: float) -> None:
        _call(self.player, "setPosition", Q_ARG("qint64", int(max(0.0, seconds) * 1000)))

    def set_volume(self, percent: int) -> None:
        _call(self.audio, "setVolume", Q_ARG("float", max(0, min(100, int(percent))) / 100.0))

    def sample(self) -> MediaStats:
        size = self.player.videoSink().videoSize() if self.player.videoSink() else None
        return MediaStats(
            state=self._state(), position_s=self.player.position() / 1000.0,
            duration_s=max(0, self.player.duration()) / 1000.0,
            buffer_pct=self.player.bufferProgress() * 100.0,
            video_size=(size.width(), size.height()) if size and size.isValid() else (0, 0))

    def _state(self) -> str:
        status = self.player.mediaStatus()
        if self.player.error() != QMediaPlayer.Error.NoError or status == Status.InvalidMedia:
            return ERROR
        if status == Status.EndOfMedia:
            return ENDED
        if status in (Status.LoadingMedia, Status.LoadedMedia) and self.player.position() == 0:
            return OPENING
        if status == Status.StalledMedia:
            return BUFFERING
        return {Playback.PlayingState: PLAYING, Playback.PausedState: PAUSED}.get(
            self.player.playbackState(), IDLE)

    def audio_tracks(self) -> list[tuple[int, str]]:
        return [(i, _describe(meta)) for i, meta in enumerate(self.player.audioTracks())]

    def subtitle_tracks(self) -> list[tuple[int, str]]:
        return [(i, _describe(meta)) for i, meta in enumerate(self.player.subtitleTracks())]

    def active_audio(self) -> int:
        return int(self.player.activeAudioTrack())

    def active_subtitle(self) -> int:
        return int(self.player.activeSubtitleTrack())

    def set_audio_track(self, track_id: int) -> None:
        # a plain setter, not a slot: `_call` cannot reach it, so this one holds the GIL
        self.player.setActiveAudioTrack(track_id)

    def set_subtitle_track(self, track_id: int) -> None:
        self.player.setActiveSubtitleTrack(track_id)

    def close(self) -> None:
        """Stop and forget the stream (idempotent): see the module docstring for why the source goes."""
        super().close()
        _call(self.player, "setSource", Q_ARG(QUrl, QUrl()))


def _describe(meta: QMediaMetaData) -> str:
    """A track's title, else its language's name, in the `NAME - [Language]` form VLC uses."""
    title = str(meta.stringValue(QMediaMetaData.Key.Title) or "")
    language = str(meta.stringValue(QMediaMetaData.Key.Language) or "")
    return f"{title or language or 'Track'} - [{language}]" if language else (title or "Track")


def _call(target: QObject, slot: str, *args: Any) -> None:
    """Call `target`'s Qt slot now, on this thread, with the GIL released (see the module docstring)."""
    if not QMetaObject.invokeMethod(target, slot, Qt.ConnectionType.DirectConnection, *args):
        raise RuntimeError(f"{type(target).__name__} has no slot {slot} taking these arguments")


def _cache_no_python_override(*objects: QObject) -> None:
    """Make shiboken look up, here on the GUI thread, whether Python overrides `disconnectNotify` of
    these objects; it caches the answer (no), so FFmpeg's threads never need the GIL to call it."""
    for target in objects:
        target.objectNameChanged.connect(_ignore)
        target.objectNameChanged.disconnect(_ignore)


def _ignore(_name: str) -> None:
    pass
