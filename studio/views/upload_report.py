"""The selected job's panel: what it is doing, why it was refused, its chunk grid, its integrity report."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from studio.views.library_quality import report_quality_html
from studio.views.upload_jobs import ACTIVE, FINISHED, JobRow
from studio.widgets import fmt
from studio.widgets.chunk_grid import ChunkGrid

ERROR_STYLE = "color: #d64545; font-weight: 600;"


def integrity_html(report: dict[str, Any] | None) -> str:
    """The integrity report in a few lines: verdict, per-rung frames and segments, audio, problems."""
    if report is None:
        return ""
    if report.get("ok") is None:
        return f"<b>Integrity report unavailable</b><br>{html.escape('; '.join(report.get('problems', [])))}"
    verdict = "✔ Passed every check" if report["ok"] else "✘ Problems found"
    lines = [f"<b>Integrity: {verdict}</b>"]
    checks = report.get("checks", {})
    for name, rung in checks.get("renditions", {}).items():
        lines.append(f"{html.escape(name)}: {rung['frames']}/{rung['expected']} frames, "
                     f"{rung['segments']}/{rung['expected_segments']} segments, keyframe-aligned")
    if checks.get("audio"):
        lines.append("audio: " + html.escape(", ".join(f"{k} {v}" for k, v in checks["audio"].items()
                                                      if not isinstance(v, list | dict))))
    lines += [f"<span style='{ERROR_STYLE}'>{html.escape(p)}</span>" for p in report.get("problems", [])]
    if quality := report_quality_html(report.get("quality")):
        lines.append(quality)
    return "<br>".join(lines)


def notes_html(row: JobRow) -> str:
    """What the job noted on its way, one per line (the source has no sound, a cluster fell back to
    this machine, quality not measured…)."""
    notes = [str(n) for n in row.job.get("notes") or [] if str(n).strip()]
    return "<br>".join(f"ⓘ {html.escape(n)}" for n in notes)


def state_line(row: JobRow) -> str:
    parts = [row.state, f"{row.percent:.0f}%"]
    if row.speed:
        parts.append(row.speed)
    if row.state not in FINISHED and row.eta_s is not None:
        parts.append(fmt.eta(row.eta_s))
    current, total = row.job.get("current", 0), row.job.get("total", 0)
    if total:
        parts.append(f"chunk {current}/{total}")
    return " · ".join(parts)


class JobDetail(QScrollArea):
    """Shows one JobRow; `show_row(None)` clears it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # text wraps instead
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget(self)
        self.title = QLabel(body)
        self.title.setObjectName("jobTitle")
        font = self.title.font()
        font.setPointSize(15)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.state = QLabel(body)
        self.notes = QLabel(body)
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.RichText)
        self.error = QLabel(body)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.grid_caption = QLabel("<b>Encode</b> — chunks (columns) by rungs (rows); "
                                   "hover a cell for its speed", body)
        self.grid_caption.setWordWrap(True)
        self.state.setWordWrap(True)
        self.grid = ChunkGrid(body)
        self.report = QLabel(body)
        self.report.setWordWrap(True)
        self.report.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(body)
        for widget in (self.title, self.state, self.notes, self.error, self.grid_caption, self.grid,
                       self.report):
            layout.addWidget(widget, 1 if widget is self.grid else 0)   # the grid takes the room there is
        layout.addStretch(0)   # and when it is hidden, the rest stays at the top
        self.setWidget(body)
        self.show_row(None)

    def show_row(self, row: JobRow | None) -> None:
        self.title.setText(row.name if row else "No job selected")
        self.state.setText(state_line(row) if row else "")
        self.notes.setText(notes_html(row) if row else "")
        self.notes.setVisible(bool(self.notes.text()))
        self.error.setText(row.error if row else "")
        self.error.setVisible(bool(row and row.error))
        encoding = row is not None and (bool(row.tasks) or row.state in ACTIVE)
        self.grid_caption.setVisible(encoding)
        self.grid.setVisible(encoding)
        self.grid.set_state(row.rungs if row else [], row.tasks if row else {}, row.workers if row else {},
                            row.speeds if row else {})
        self.report.setText(integrity_html(row.integrity) if row else "")
