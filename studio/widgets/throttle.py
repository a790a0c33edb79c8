"""Coalesce bursts of calls into one call per interval (repaints at most every ~100 ms)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

REPAINT_MS = 100


class Throttle(QObject):
    """`poke()` as often as you like; `action` runs once at the end of the current interval."""

    def __init__(self, action: Callable[[], None], interval_ms: int = REPAINT_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(action)

    def poke(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
