"""The Library's "In what is said" list: the moments whose subtitles match the search, each with its
time and words (`GET /api/search?in=subtitles`); activating one asks to play the title from there.

Like the grid's search it is asynchronous and drops stale answers (a newer keystroke's is coming).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from studio.client import ApiClient

MAX_TITLES = 20
LIST_HEIGHT = 130


def moment_line(hit: dict[str, Any], moment: dict[str, Any]) -> str:
    """`The bridge · 0:12 “We cross it tonight…”`."""
    text = " ".join(str(moment.get("text", "")).split())
    return f"{hit.get('title') or hit['video_id']} · {moment.get('at', '')}  “{text}”"


class SaidHits(QWidget):
    """Moments in the subtitles matching the query; `play_at(video_id, seconds)` on activation."""

    play_at = Signal(str, float)

    def __init__(self, client: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self._seq = 0
        self.heading = QLabel(self)
        self.list = QListWidget(self)
        self.list.setMaximumHeight(LIST_HEIGHT)
        self.list.setToolTip("Click a moment to play the title from there")
        self.list.itemClicked.connect(self._activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.list)
        self.clear()

    def search(self, query: str) -> None:
        """Ask for the moments matching `query` (an empty query clears the list)."""
        self._seq += 1
        if not query.strip():
            return self.clear()
        seq = self._seq
        self.client.get("/api/search", {"in": "subtitles", "q": query, "limit": MAX_TITLES},
                        on_ok=lambda body: self._found(seq, body), on_error=lambda _e: self._found(seq, {}))
        return None

    def clear(self) -> None:
        self.list.clear()
        self.hide()

    def _found(self, seq: int, body: dict[str, Any]) -> None:
        if seq != self._seq:
            return
        self.list.clear()
        for hit in body.get("hits", []):
            for moment in hit.get("moments", []):
                item = QListWidgetItem(moment_line(hit, moment), self.list)
                item.setData(Qt.ItemDataRole.UserRole, (hit["video_id"], float(moment.get("start", 0.0))))
        count = self.list.count()
        self.heading.setText(f"<b>In what is said</b> — {count} moment{'s' if count != 1 else ''}; "
                             "click one to play from there")
        self.setVisible(count > 0)

    def moments(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _activated(self, item: QListWidgetItem) -> None:
        video_id, start = item.data(Qt.ItemDataRole.UserRole)
        self.play_at.emit(video_id, start)
