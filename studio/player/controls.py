"""Player control widgets: they emit intent (play, seek, volume, quality, fullscreen) and take state
through slots; they hold no reference to the player (the Qt player example's split)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget

from studio.player.backend import BUFFERING, OPENING, PLAYING
from studio.player.session import AUTO
from studio.player.thumbs import Thumbnails

SLIDER_STEPS = 1000


def clock(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else \
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class SeekBar(QSlider):
    """A time slider that shows the sprite thumbnail of the hovered time above itself."""

    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(0, SLIDER_STEPS)
        self.setMouseTracking(True)
        self.duration_s = 0.0
        self.thumbnails: Thumbnails | None = None
        self.preview = QLabel(self, Qt.WindowType.ToolTip)
        self.preview.setStyleSheet("border: 1px solid #888; background: black; color: white;")
        self.sliderReleased.connect(lambda: self.seek_requested.emit(self._seconds(self.value())))

    def _seconds(self, value: int) -> float:
        return self.duration_s * value / SLIDER_STEPS

    def time_at(self, x: int) -> float:
        return self.duration_s * min(1.0, max(0.0, x / max(1, self.width())))

    def set_position(self, position_s: float, duration_s: float) -> None:
        self.duration_s = duration_s
        if not self.isSliderDown() and duration_s > 0:
            self.blockSignals(True)
            self.setValue(int(SLIDER_STEPS * min(1.0, position_s / duration_s)))
            self.blockSignals(False)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """A click jumps to the clicked time (not one page step)."""
        if event.button() == Qt.MouseButton.LeftButton and self.duration_s > 0:
            self.seek_requested.emit(self.time_at(int(event.position().x())))
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self.show_preview(int(event.position().x()))
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: object) -> None:
        self.preview.hide()

    def show_preview(self, x: int) -> None:
        """The thumbnail and time for the hovered x, just above the slider."""
        seconds = self.time_at(x)
        picture = self.thumbnails.at(seconds) if self.thumbnails else None
        if picture is None:
            self.preview.setText(f" {clock(seconds)} ")
        else:
            self.preview.setPixmap(picture)
        self.preview.setToolTip(clock(seconds))
        self.preview.adjustSize()
        spot = self.mapToGlobal(QPoint(x - self.preview.width() // 2, -self.preview.height() - 6))
        self.preview.move(spot)
        self.preview.show()


class PlayerControls(QWidget):
    """Play/pause, seek bar, time, volume, quality and fullscreen."""

    play_requested = Signal()
    pause_requested = Signal()
    seek_requested = Signal(float)
    volume_changed = Signal(int)
    quality_selected = Signal(str)
    fullscreen_toggled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.playing = False
        self.play_button = QToolButton(self)
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self._play_clicked)
        self.seek = SeekBar(self)
        self.seek.seek_requested.connect(self.seek_requested)
        self.time = QLabel("0:00 / 0:00", self)
        self.volume = QSlider(Qt.Orientation.Horizontal, self)
        self.volume.setMaximumWidth(90)
        self.volume.setToolTip("Volume")
        self.volume.setRange(0, 100)
        self.volume.setValue(80)
        self.volume.valueChanged.connect(self.volume_changed)
        self.quality = QComboBox(self)
        self.quality.setToolTip("Quality: Auto follows the stream; a rung plays only that rendition")
        self.quality.currentIndexChanged.connect(self._quality_picked)
        self.full = QToolButton(self)
        self.full.setToolTip("Fullscreen (F)")
        self.full.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarMaxButton))
        self.full.clicked.connect(self.fullscreen_toggled)
        self._layout()
        self.set_state("idle")
        self.set_rungs([])

    def _layout(self) -> None:
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        for widget in (self.play_button, self.seek, self.time, QLabel("Vol", self), self.volume,
                       self.quality, self.full):
            row.addWidget(widget, 1 if widget is self.seek else 0)

    def _quality_picked(self, index: int) -> None:
        if index >= 0:
            self.quality_selected.emit(self.quality.itemData(index))

    def _play_clicked(self) -> None:
        (self.pause_requested if self.playing else self.play_requested).emit()

    def set_state(self, state: str) -> None:
        self.playing = state in (PLAYING, BUFFERING, OPENING)
        icon = QStyle.StandardPixmap.SP_MediaPause if self.playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def set_position(self, position_s: float, duration_s: float) -> None:
        self.seek.set_position(position_s, duration_s)
        self.time.setText(f"{clock(position_s)} / {clock(duration_s)}")

    def set_rungs(self, renditions: list[dict]) -> None:
        """Auto plus each rendition (highest first); selecting one emits `quality_selected`."""
        self.quality.blockSignals(True)
        self.quality.clear()
        self.quality.addItem("Auto", AUTO)
        for r in sorted(renditions, key=lambda r: -int(r.get("height", 0))):
            self.quality.addItem(f"{r['name']} · {int(r.get('bandwidth', 0)) // 1000} kbit/s", r["name"])
        self.quality.blockSignals(False)

    def set_thumbnails(self, thumbnails: Thumbnails | None) -> None:
        self.seek.thumbnails = thumbnails
