"""The Audio and Subtitles buttons of the player: each opens a menu of the playing title's tracks.

Like the other controls they emit intent (a track's name; "" for subtitles Off) and take state
through `show_tracks`; they hold no player reference.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QHBoxLayout, QMenu, QToolButton, QWidget

from studio.player.tracks import MenuTrack

OFF_LABEL = "Off"


class TrackMenus(QWidget):
    """Two menu buttons: Audio (each language/name) and Subtitles (Off + each track, SDH/forced marked)."""

    audio_selected = Signal(str)
    subtitles_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.audio_button = self._button("Audio", "Audio language")
        self.subtitles_button = self._button("Subtitles", "Subtitles and captions")
        self.audio_menu = QMenu(self)
        self.subtitles_menu = QMenu(self)
        self.audio_button.setMenu(self.audio_menu)
        self.subtitles_button.setMenu(self.subtitles_menu)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.audio_button)
        row.addWidget(self.subtitles_button)
        row.addStretch(1)
        self.show_tracks([], "", [], "", "")

    def _button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        return button

    def show_tracks(self, audio: list[MenuTrack], active_audio: str, subtitles: list[MenuTrack],
                    active_subtitles: str, note: str) -> None:
        """Rebuild both menus; the active track is checked; `note` says what the backend cannot do."""
        self._fill(self.audio_menu, [(t.name, t.label) for t in audio], active_audio, self.audio_selected,
                   note or "This title has one audio track.")
        items = [("", OFF_LABEL), *((t.name, t.label) for t in subtitles)]
        self._fill(self.subtitles_menu, items, active_subtitles, self.subtitles_selected,
                   note or ("This title has no subtitles." if not subtitles else ""))
        self.audio_button.setText(f"Audio: {self._short(audio, active_audio)}" if audio else "Audio")
        self.subtitles_button.setText(f"Subtitles: {self._short(subtitles, active_subtitles) or OFF_LABEL}")

    @staticmethod
    def _short(tracks: list[MenuTrack], name: str) -> str:
        return next((t.name for t in tracks if t.name == name), "")[:24]

    def _fill(self, menu: QMenu, items: list[tuple[str, str]], active: str, signal: Signal,
              note: str) -> None:
        menu.clear()
        group = QActionGroup(menu)
        for name, label in items:
            action = QAction(label, menu, checkable=True, checked=name == active)
            action.setData(name)
            action.triggered.connect(lambda _on=False, n=name: signal.emit(n))
            group.addAction(action)
            menu.addAction(action)
        if note and (len(items) <= 1 or self._is_limit(note)):
            menu.addSeparator()
            menu.addAction(note).setEnabled(False)

    @staticmethod
    def _is_limit(note: str) -> bool:
        return not note.startswith("This title")

    def labels(self, menu: QMenu) -> list[str]:
        """The menu's enabled items as shown (for the status line and tests)."""
        return [a.text() for a in menu.actions() if a.isEnabled() and not a.isSeparator()]

    def checked(self, menu: QMenu) -> str:
        return next((a.text() for a in menu.actions() if a.isChecked()), "")
