"""The selected title's panel: poster, facts, editable title/description/tags, Play and Delete.

It emits intent (`save`, `delete`, `play`) with the title; the Library view talks to the server.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.views.library_codecs import rungs_text
from studio.views.library_quality import title_quality_html
from studio.widgets import fmt


def tag_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


class TitleEditor(QWidget):
    """Shows one title; `save(video_id, changes)`, `delete(title)` and `play(title)` are its intents."""

    save = Signal(str, dict)
    delete = Signal(dict)
    play = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.current: dict[str, Any] | None = None
        self.poster = QLabel(self)
        self.poster.setFixedHeight(180)
        self.poster.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.facts = QLabel(self)
        self.facts.setWordWrap(True)
        self.title_edit = QLineEdit(self)
        self.description_edit = QPlainTextEdit(self)
        self.description_edit.setPlaceholderText("What is this video about?")
        self.tags_edit = QLineEdit(self)
        self.tags_edit.setPlaceholderText("comma, separated, tags")
        self._layout()
        self.show_title(None)

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Title", self.title_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("Tags", self.tags_edit)
        self.play_button = QPushButton("▶ Play", self)
        self.save_button = QPushButton("Save", self)
        self.delete_button = QPushButton("Delete…", self)
        self.play_button.clicked.connect(lambda: self._emit(self.play))
        self.save_button.clicked.connect(self._save)
        self.delete_button.clicked.connect(lambda: self._emit(self.delete))
        buttons = QHBoxLayout()
        for button in (self.play_button, self.save_button, self.delete_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.poster)
        layout.addWidget(self.facts)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def show_title(self, title: dict[str, Any] | None, poster: QPixmap | None = None) -> None:
        self.current = title
        self.setEnabled(title is not None)
        title = title or {}
        self.title_edit.setText(title.get("title", ""))
        self.description_edit.setPlainText(title.get("description", ""))
        self.tags_edit.setText(", ".join(title.get("tags", [])))
        self.facts.setText(self._facts(title) if title else "Select a title to edit it.")
        self.set_poster(poster)

    def set_poster(self, poster: QPixmap | None) -> None:
        self.poster.setPixmap(poster if poster is not None else QPixmap())
        self.poster.setText("" if poster is not None else "no poster yet")

    @staticmethod
    def _facts(title: dict[str, Any]) -> str:
        rungs = rungs_text(title.get("renditions", []))
        return (f"{fmt.duration(title.get('duration'))} · {title.get('width', 0)}x{title.get('height', 0)}"
                f" · {fmt.size(title.get('size_bytes', 0))}<br>rungs: {rungs or '—'}"
                f"<br><small>{title.get('original_name', '')} · {title['video_id']}</small>"
                + (f"<br>{quality}" if (quality := title_quality_html(title.get("renditions", []))) else ""))

    def _emit(self, signal: Any) -> None:
        if self.current is not None:
            signal.emit(self.current)

    def _save(self) -> None:
        if self.current is None:
            return
        changes = {"title": self.title_edit.text().strip(),
                   "description": self.description_edit.toPlainText().strip(),
                   "tags": tag_list(self.tags_edit.text())}
        self.save.emit(self.current["video_id"], changes)
