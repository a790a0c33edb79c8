"""The live chunk-by-rung grid of one ingest job: each cell fills as its encode task runs.

One ffmpeg encodes a chunk into every rung at once, so a column fills together; the audio task has
its own row. On a cluster (the Dask executor) a last row names the worker that encoded each chunk.
The grid grows with the view; a finished chunk shows its encode speed (x realtime) when its cells are
wide enough, and hovering a cell tells its chunk, rung, state, speed and worker.
The widget only paints what it is given (`set_state`); the view throttles the calls.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

CELL_MAX = 120       # widest a chunk's cell grows
ROW_MAX = 72.0       # tallest a row grows
SPEED_MIN_W = 34     # narrower cells do not print their speed
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
        self.speeds: dict[str, float] = {}  # finished task -> its encode speed, x realtime
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(40)
        self.setMouseTracking(True)

    def set_state(self, rungs: list[str], tasks: dict[str, float],
                  workers: dict[str, str] | None = None, speeds: dict[str, float] | None = None) -> None:
        workers, speeds = workers or {}, speeds or {}
        if rungs != self.rungs or tasks != self.tasks or workers != self.workers or speeds != self.speeds:
            self.rungs, self.tasks = list(rungs), dict(tasks)
            self.workers, self.speeds = dict(workers), dict(speeds)
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
        return QSize(LABEL_W + 60, max(40, len(self.rows()) * 18))

    def sizeHint(self) -> QSize:
        return QSize(LABEL_W + 8 * (CELL_MAX // 2 + GAP), max(40, len(self.rows()) * 40))

    def _cell_size(self) -> tuple[float, float]:
        cols, rows = max(1, len(chunk_names(self.tasks))), max(1, len(self.rows()))
        return (min(CELL_MAX, (self.width() - LABEL_W) / cols - GAP),
                min(ROW_MAX, self.height() / rows - GAP))

    def cell_rect(self, r: int, c: int) -> QRectF:
        """Where row `r`'s cell of chunk column `c` is painted."""
        cell_w, cell_h = self._cell_size()
        return QRectF(LABEL_W + c * (cell_w + GAP), r * (cell_h + GAP), cell_w, cell_h)

    def cell_at(self, point: QPointF) -> tuple[str, str] | None:
        """The (row, chunk task) under a point; the audio row's one cell answers ("audio", "audio")."""
        cell_w, cell_h = self._cell_size()
        chunks, rows = chunk_names(self.tasks), self.rows()
        r, c = int(point.y() // (cell_h + GAP)), int((point.x() - LABEL_W) // (cell_w + GAP))
        if point.x() < LABEL_W or not 0 <= r < len(rows) or rows[r] == WORKER_ROW:
            return None
        if rows[r] == "audio":
            return ("audio", "audio")
        return (rows[r], chunks[c]) if 0 <= c < len(chunks) else None

    def describe(self, row: str, chunk: str) -> str:
        """A cell's tooltip: which chunk and rung, how far, how fast, where."""
        chunks = chunk_names(self.tasks)
        fraction = self.fraction(row, chunk)
        what = "audio" if chunk == "audio" else f"chunk {chunks.index(chunk) + 1} of {len(chunks)} · {row}"
        state = ("done" if fraction >= 1.0 else f"encoding, {fraction:.0%}" if fraction > 0 else "waiting")
        lines = [what, state + (f" at {self.speeds[chunk]:.1f}x realtime" if chunk in self.speeds else "")]
        if self.worker_of(chunk):
            lines.append(f"on {self.worker_of(chunk)}")
        return "\n".join(lines)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        cell = self.cell_at(event.position())
        self.setToolTip(self.describe(*cell) if cell else "")

    def paintEvent(self, event: QPaintEvent) -> None:
        chunks, rows = chunk_names(self.tasks), self.rows()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not rows:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Waiting for the encode to start…")
            return
        for r, row in enumerate(rows):
            first = self.cell_rect(r, 0)
            label = QRectF(0, first.y(), LABEL_W - 6, first.height())
            painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
            painter.drawText(label, Qt.AlignmentFlag.AlignVCenter, row)
            if row == WORKER_ROW:
                self._worker_names(painter, chunks, r)
            elif row == "audio":   # one cell across every chunk column
                rect = first.united(self.cell_rect(r, max(0, len(chunks) - 1)))
                self._cell(painter, rect, self.fraction(row, "audio"), self.speeds.get("audio"))
            else:
                for c, chunk in enumerate(chunks):
                    rect = self.cell_rect(r, c)
                    self._cell(painter, rect, self.fraction(row, chunk), self.speeds.get(chunk))

    def _worker_names(self, painter: QPainter, chunks: list[str], r: int) -> None:
        """Each column's worker; in a narrow cell only its last part (`worker-1` → `1`, an address
        `tcp://127.0.0.1:40123` → `40123`), which still tells the workers apart."""
        metrics = painter.fontMetrics()
        for c, chunk in enumerate(chunks):
            rect = self.cell_rect(r, c)
            text = self.worker_of(chunk)
            if metrics.horizontalAdvance(text) > rect.width():
                last = re.split(r"[-:/.@]", text)[-1]
                text = metrics.elidedText(last, Qt.TextElideMode.ElideLeft, int(rect.width()))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _cell(self, painter: QPainter, rect: QRectF, fraction: float, speed: float | None) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.palette().color(QPalette.ColorRole.Mid))
        painter.drawRoundedRect(rect, 3, 3)
        if fraction > 0:
            filled = QRectF(rect.x(), rect.y(), rect.width() * min(fraction, 1.0), rect.height())
            painter.setBrush(DONE if fraction >= 1.0 else RUNNING)
            painter.drawRoundedRect(filled, 3, 3)
        if fraction >= 1.0 and speed is not None and rect.width() >= SPEED_MIN_W and rect.height() >= 14:
            painter.setPen(QColor("white"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{speed:.1f}x")
