"""Analytics view (placeholder until the full view lands)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class AnalyticsView(QWidget):
    """Analytics view: takes the shared ApiClient; real content follows."""

    def __init__(self, client: QObject, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Analytics"))
