"""The live chunk-by-rung grid of one ingest job: each cell fills as its encode task runs.

One ffmpeg encodes a chunk into every rung at once, so a column fills together; the audio task has
its own row. On a cluster (the Dask executor) a last row names the worker that encoded each chunk.
The widget only paints what it is given (`set_state`); the view throttles the calls.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

CELL_MAX = 44
LABEL_W = 64
GAP = 3
DONE = QColor("#2e9d5b")
RUNNING = QColor("#3a7bd5")
WORKER_ROW = "worker"


def chunk_names(tasks: dict[str, float]) -> list[str]:
    return sorted(name for name in tasks if name.startswith("chunk-"))


class ChunkGrid(QWidget):
    """Rows: rungs (tallest first) then audio; columns: chunks in order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rungs: list[str] = []
        self.tasks: dict[str, float] = {}
        self.workers: dict[str, str] = {}   # chunk task -> the cluster worker that ran it
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(40)

    def set_state(self, rungs: list[str], tasks: dict[str, float],
                  workers: dict[str, str] | None = None) -> None:
        workers = workers or {}
        if rungs != self.rungs or tasks != self.tasks or workers != self.workers:
            self.rungs, self.tasks, self.workers = list(rungs), dict(tasks), dict(workers)
            self.updateGeometry()
            self.update()

    def rows(self) -> list[str]:
        video = self.rungs or (["video"] if chunk_names(self.tasks) else [])
        audio = ["audio"] if "audio" in self.tasks else []
        return video + audio + ([WORKER_ROW] if self.workers else [])

    def worker_of(self, chunk: str) -> str:
        """The worker shown under a chunk's column ("" until its encode is done on a cluster)."""
        return self.workers.get(chunk, "")

    def fraction(self, row: str, chunk: str) -> float:
        return float(self.tasks.get("audio" if row == "audio" else chunk, 0.0))

    def _cells(self) -> list[tuple[str, str]]:
        chunks = chunk_names(self.tasks)
        return [(row, c) for row in self.rows() if row != WORKER_ROW
                for c in (["audio"] if row == "audio" else chunks)]

    def cells(self) -> int:
        return len(self._cells())

    def done_cells(self) -> int:
        """Cells shown as finished (what a user sees filled)."""
        return sum(1 for row, c in self._cells() if self.fraction(row, c) >= 1.0)

    def minimumSizeHint(self) -> QSize:
        return QSize(LABEL_W + 60, 40)

    def sizeHint(self) -> QSize:
        return QSize(LABEL_W + 8 * (CELL_MAX + GAP), max(40, len(self.rows()) * 26 + 4))

    def paintEvent(self, event: QPaintEvent) -> None:
        chunks, rows = chunk_names(self.tasks), self.rows()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not rows:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Waiting for the encode to start…")
            return
        cols = max(1, len(chunks))
        cell_w = min(CELL_MAX, (self.width() - LABEL_W) / cols - GAP)
        cell_h = min(22.0, self.height() / len(rows) - GAP)
        for r, row in enumerate(rows):
            y = r * (cell_h + GAP)
            painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
            painter.drawText(QRectF(0, y, LABEL_W - 6, cell_h), Qt.AlignmentFlag.AlignVCenter, row)
            if row == WORKER_ROW:
                self._worker_names(painter, chunks, y, cell_w, cell_h)
                continue
            cells = [0] if row == "audio" else range(len(chunks))
            for c in cells:
                width = cell_w * cols + GAP * (cols - 1) if row == "audio" else cell_w
                rect = QRectF(LABEL_W + c * (cell_w + GAP), y, width, cell_h)
                self._cell(painter, rect, self.fraction(row, chunks[c] if chunks else ""))

    def _worker_names(self, painter: QPainter, chunks: list[str], y: float, cell_w: float,
                      cell_h: float) -> None:
        """Each column's worker; in a narrow cell only its last part (`worker-1` → `1`, an address
        `tcp://127.0.0.1:40123` → `40123`), which still tells the workers apart."""
        metrics = painter.fontMetrics()
        for c, chunk in enumerate(chunks):
            rect = QRectF(LABEL_W + c * (cell_w + GAP), y, cell_w, cell_h)
            text = self.worker_of(chunk)
            if metrics.horizontalAdvance(text) > cell_w:
                last = re.split(r"[-:/.@]", text)[-1]
                text = metrics.elidedText(last, Qt.TextElideMode.ElideLeft, int(cell_w))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _cell(self, painter: QPainter, rect: QRectF, fraction: float) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.palette().color(QPalette.ColorRole.Mid))
        painter.drawRoundedRect(rect, 3, 3)
        if fraction > 0:
            filled = QRectF(rect.x(), rect.y(), rect.width() * min(fraction, 1.0), rect.height())
            painter.setBrush(DONE if fraction >= 1.0 else RUNNING)
            painter.drawRoundedRect(filled, 3, 3)
