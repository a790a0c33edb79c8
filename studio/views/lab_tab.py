"""What every tab of the Lab view shares: Run asks the server (never blocking the window) with a busy
bar and the seconds elapsed, a status line, a table of the results, and Export CSV of the rows behind
it. A tab adds its inputs, its request, and how it shows an answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCharts import QChart, QChartView
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPainter, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLayout,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.views.analytics import write_csv

TICK_MS = 200
Reply = Callable[[dict[str, Any]], None]


class TitlePicker(QComboBox):
    """The published titles by name and id, refilled from the server on `reload()`; the choice is kept.
    `everything` adds a first entry (data "") meaning every title; `video_only` leaves out titles
    without a video ladder (audio-only titles have no rungs to simulate)."""

    def __init__(self, client: Any, parent: QWidget, *, everything: str | None = None,
                 video_only: bool = False, on_error: Callable[[str], None] | None = None) -> None:
        super().__init__(parent)
        self.client, self.everything, self.video_only = client, everything, video_only
        self.on_error = on_error or (lambda _text: None)
        self.setMinimumWidth(220)
        if everything:
            self.addItem(everything, "")

    def reload(self) -> None:
        self.client.get("/api/titles", on_ok=self._fill, on_error=self.on_error)

    def _fill(self, body: dict[str, Any]) -> None:
        chosen = self.currentData()
        self.clear()
        if self.everything:
            self.addItem(self.everything, "")
        for t in body.get("titles", []):
            if t.get("renditions") or not self.video_only:
                self.addItem(f"{t.get('title') or t['video_id']} ({t['video_id']})", t["video_id"])
        if chosen is not None and self.findData(chosen) >= 0:
            self.setCurrentIndex(self.findData(chosen))


class LabTab(QWidget):
    """The common half of a lab tab; subclasses set the class attributes and implement `_inputs`,
    `_outputs` and `_layout` (called in that order once the common widgets exist), `params`,
    `request`, `show_result` (which calls `finished` first) and `rows`."""

    waiting = "Running"          # the status while the server works ("Replaying", "Simulating")
    name = "Lab"                 # "<name> failed: …"
    csv_name = "lab.csv"         # the file name Export CSV suggests
    columns: Sequence[str] = ()  # the CSV's columns, keys of `rows()`

    def __init__(self, client: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.result: dict[str, Any] | None = None
        self.started = 0.0
        self.run_button = QPushButton("Run", self)
        self.run_button.clicked.connect(self.run)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.table = QTableWidget(self)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.export_button = QPushButton("Export CSV…", self)
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(lambda: self.export_csv())
        self.status = QLabel("", self)
        self._ticker = QTimer(self, interval=TICK_MS)
        self._ticker.timeout.connect(self._tick)
        self._inputs()
        self._outputs()
        self._layout()
        self.reload_titles()

    def showEvent(self, event: QShowEvent) -> None:
        """Titles published since the tab was built show up when it is shown again."""
        super().showEvent(event)
        self.reload_titles()

    def reload_titles(self) -> None:
        """A tab about titles keeps a `TitlePicker` as `self.title`; it is refilled when shown."""
        picker = getattr(self, "title", None)
        if isinstance(picker, TitlePicker):
            picker.reload()

    # --- what a tab says -----------------------------------------------------------------------------
    def _inputs(self) -> None:
        raise NotImplementedError

    def _outputs(self) -> None:
        raise NotImplementedError

    def _layout(self) -> None:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        raise NotImplementedError

    def request(self, params: dict[str, Any], on_ok: Reply, on_error: Callable[[str], None]) -> None:
        raise NotImplementedError

    def show_result(self, result: dict[str, Any]) -> None:
        raise NotImplementedError

    def rows(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    # --- running ------------------------------------------------------------------------------------
    def run(self) -> None:
        """Ask the server; the busy bar and elapsed time run until it answers."""
        self.run_button.setEnabled(False)
        self.progress.show()
        self.started = time.monotonic()
        self._ticker.start()
        self.status.setText(f"{self.waiting}…")
        self.request(self.params(), self.show_result, self._failed)

    def finished(self, result: dict[str, Any]) -> None:
        """The answer came: stop the busy bar, keep the result, allow the next run and the export."""
        self._ticker.stop()
        self.progress.hide()
        self.run_button.setEnabled(True)
        self.result = result
        self.export_button.setEnabled(bool(self.rows()))

    def elapsed(self) -> str:
        return f"took {time.monotonic() - self.started:.1f} s"

    def _tick(self) -> None:
        self.status.setText(f"{self.waiting}… {time.monotonic() - self.started:.0f} s")

    def _failed(self, text: str) -> None:
        self._ticker.stop()
        self.progress.hide()
        self.run_button.setEnabled(True)
        self.status.setText(f"{self.name} failed: {text}")

    def headline_label(self, text: str) -> QLabel:
        """The answer's one-line headline, large; `text` says what to do before the first run."""
        label = self.sentence_label(text)
        label.setStyleSheet("font-size: 14pt; font-weight: 600;")
        return label

    def sentence_label(self, text: str = "") -> QLabel:
        """A wrapped line of the answer under the headline."""
        label = QLabel(text, self)
        label.setWordWrap(True)
        return label

    def chart_view(self, min_height: int = 220) -> QChartView:
        view = QChartView(self)
        view.setRenderHint(QPainter.RenderHint.Antialiasing)
        view.setMinimumHeight(min_height)
        return view

    def side_by_side(self, left: QWidget, right: QWidget,
                     stretch: tuple[int, int] | None = None) -> QSplitter:
        """Two charts next to each other, resizable; `stretch` their width ratio (equal if None)."""
        charts = QSplitter(Qt.Orientation.Horizontal, self)
        charts.addWidget(left)
        charts.addWidget(right)
        if stretch is not None:
            charts.setStretchFactor(0, stretch[0])
            charts.setStretchFactor(1, stretch[1])
        return charts

    def actions_row(self, label: str, left: Sequence[QWidget], *right: QWidget) -> QHBoxLayout:
        """The row under the inputs: `label` and its check boxes (`left`); at the right `right`, then
        the busy bar, Run and Export CSV."""
        row = QHBoxLayout()
        row.addWidget(QLabel(label, self))
        for widget in left:
            row.addWidget(widget)
        row.addStretch(1)
        for widget in (*right, self.progress, self.run_button, self.export_button):
            row.addWidget(widget)
        return row

    def stack(self, rows: Sequence[QLayout], texts: Sequence[QWidget], charts: QWidget) -> None:
        """The tab's layout: input rows, the answer's sentences, the charts over the table (3:1,
        resizable), the status line."""
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(charts)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        column = QVBoxLayout(self)
        for row in rows:
            column.addLayout(row)
        for text in texts:
            column.addWidget(text, 0)
        column.addWidget(splitter, 1)
        column.addWidget(self.status, 0)

    # --- showing ------------------------------------------------------------------------------------
    @staticmethod
    def set_chart(view: QChartView, chart: QChart) -> None:
        """Show `chart` in `view`, freeing the one it replaces."""
        old = view.chart()
        view.setChart(chart)
        if old is not None:
            old.deleteLater()

    def fill_table(self, headers: Sequence[str], cells: Sequence[Sequence[str]]) -> None:
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setRowCount(len(cells))
        self.table.setHorizontalHeaderLabels(list(headers))
        for r, row in enumerate(cells):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    # --- export -------------------------------------------------------------------------------------
    def export_csv(self, path: Path | None = None) -> Path | None:
        """The rows behind the table as CSV (raw numbers); asks where unless `path` is given."""
        rows = self.rows()
        if path is None:
            chosen, _filter = QFileDialog.getSaveFileName(self, "Export CSV", self.csv_name,
                                                          "CSV files (*.csv)")
            if not chosen:
                return None
            path = Path(chosen)
        try:
            write_csv(path, list(self.columns), rows)
        except OSError as exc:
            self.status.setText(f"Could not write {path}: {exc.strerror or exc}. Pick another folder.")
            return None
        self.status.setText(f"Wrote {len(rows)} rows to {path}")
        return path
