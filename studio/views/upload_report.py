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


STAGE_ORDER = ("probe", "analysis", "encode", "package", "verify", "thumbnails", "publish")


def stages_line(stages: dict[str, float] | None) -> str:
    """Where a finished ingest's time went, slowest stage first marked, in pipeline order:
    `Took 1:42 — probe 1.2 s · encode 80.4 s (audio 2.1 s beside it) · …`. Stages that took no
    time are left out; audio runs inside the encode, so it is said there and not added twice."""
    if not stages:
        return ""
    shown = [(name, float(stages[name])) for name in STAGE_ORDER if float(stages.get(name) or 0) >= 0.05]
    if not shown:
        return ""
    total = sum(seconds for _, seconds in shown)
    slowest = max(shown, key=lambda item: item[1])[0]
    parts = []
    for name, seconds in shown:
        part = f"{name} {seconds:.1f} s"
        if name == "encode" and float(stages.get("audio") or 0) >= 0.05:
            part += f" (audio {float(stages['audio']):.1f} s beside it)"
        parts.append(f"<b>{part}</b>" if name == slowest and len(shown) > 1 else part)
    return f"Took {fmt.duration(total)} — " + " · ".join(parts)


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
        self.stages = QLabel(body)
        self.stages.setWordWrap(True)
        self.stages.setTextFormat(Qt.TextFormat.RichText)
        self.stages.setToolTip("Wall time of each stage of the ingest (the job result's `stages`)")
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
        for widget in (self.title, self.state, self.stages, self.notes, self.error, self.grid_caption,
                       self.grid, self.report):
            layout.addWidget(widget, 1 if widget is self.grid else 0)   # the grid takes the room there is
        layout.addStretch(0)   # and when it is hidden, the rest stays at the top
        self.setWidget(body)
        self.show_row(None)

    def show_row(self, row: JobRow | None) -> None:
        self.title.setText(row.name if row else "No job selected")
        self.state.setText(state_line(row) if row else "")
        self.stages.setText(stages_line((row.job.get("result") or {}).get("stages")) if row else "")
        self.stages.setVisible(bool(self.stages.text()))
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
