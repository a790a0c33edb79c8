"""QtMultimedia backend: plays HLS with QMediaPlayer when libvlc is missing.

It cannot add a separate audio playlist to a media playlist, so a fixed rung plays without sound;
Auto (the master playlist) has both. Dropped frames are not reported by QMediaPlayer (shown as 0).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QUrl
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer
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

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.player = QMediaPlayer(self)
        self.audio = QAudioOutput(self)
        self.player.setAudioOutput(self.audio)
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
        self.player.setSource(QUrl(url))
        self.player.play()
        self.start_polling()

    def _status(self, status: Status) -> None:
        if status == Status.BufferedMedia and self._start_s > 0:
            start, self._start_s = self._start_s, 0.0
            self.seek(start)

    def play(self) -> None:
        self.player.play()

    def pause(self) -> None:
        self.player.pause()

    def stop(self) -> None:
        self.player.stop()

    def seek(self, seconds: float) -> None:
        self.player.setPosition(int(max(0.0, seconds) * 1000))

    def set_volume(self, percent: int) -> None:
        self.audio.setVolume(max(0, min(100, int(percent))) / 100.0)

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

    def close(self) -> None:
        super().close()
        self.player.stop()
