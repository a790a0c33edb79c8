"""Analytics view: charts of the server's named analytics queries, every chart's numbers as a table,
CSV export of the table. Refreshed on a timer while visible and soon after relevant events (batched).

Views and watch time over time come from the `views_over_time` query in the window's buckets;
buckets are whole hours or days because the server's playback rollup counts whole hours.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCharts import QChart, QChartView
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.views.analytics_charts import (
    WINDOWS,
    Window,
    bar_chart,
    number,
    time_chart,
)
from studio.views.analytics_demo import DemoBanner

REFRESH_MS = 10_000
STUCK_S = 20.0            # a refresh still waiting this long is abandoned for a new one
EVENT_DELAY_MS = 1500      # events arriving in a burst cause one refresh this long after the first
TOPICS = ("playback", "cdn", "encode", "videos")


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    scale: float = 1.0
    fmt: str = "%.0f"


class ChartTable(QWidget):
    """One tab: a chart over a table of the same numbers, with an optional metric picker."""

    def __init__(self, name: str, metrics: tuple[Metric, ...] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.metrics = metrics
        self.columns: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self.build: Callable[[Metric | None], QChart] | None = None
        self.picker = QComboBox(self)
        for metric in metrics:
            self.picker.addItem(metric.label, metric.key)
        self.picker.setVisible(bool(metrics))
        self.picker.currentIndexChanged.connect(lambda _i: self.redraw())
        self.chart = QChartView(self)
        self.chart.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart.setMinimumHeight(220)
        self.table = QTableWidget(self)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.chart)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        column = QVBoxLayout(self)
        column.addWidget(self.picker, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(splitter, 1)

    def selected_metric(self) -> Metric | None:
        return self.metrics[self.picker.currentIndex()] if self.metrics else None

    def show_rows(self, columns: list[str], rows: list[dict[str, Any]],
                  build: Callable[[Metric | None], QChart]) -> None:
        self.build = build
        if (columns, rows) != (self.columns, self.rows):
            self.columns, self.rows = columns, rows
            self._fill_table()
        self.redraw()

    def redraw(self) -> None:
        if self.build is not None:
            old = self.chart.chart()
            self.chart.setChart(self.build(self.selected_metric()))
            if old is not None:
                old.deleteLater()

    def _fill_table(self) -> None:
        self.table.setSortingEnabled(False)
        self.table.clear()
        self.table.setColumnCount(len(self.columns))
        self.table.setRowCount(len(self.rows))
        self.table.setHorizontalHeaderLabels(self.columns)
        for r, row in enumerate(self.rows):
            for c, key in enumerate(self.columns):
                value = row.get(key)
                item = QTableWidgetItem()
                item.setData(Qt.ItemDataRole.DisplayRole, value if isinstance(value, int | float) else
                             ("" if value is None else str(value)))
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """The rows as CSV with a header, written to a temp file then renamed (never a half-written file)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


QOE = (Metric("startup_ms", "Startup time", "ms"),
       Metric("rebuffer_ratio", "Rebuffer ratio", "%", 100, "%.2f"),
       Metric("avg_bitrate", "Average bitrate", "kbit/s", 0.001))
ENCODE = (Metric("cpu_s_per_output_min", "CPU seconds per output minute", "CPU s/min", 1, "%.1f"),
          Metric("wall_s", "Wall time", "s", 1, "%.1f"),
          Metric("realtime_factor", "Realtime factor", "x", 1, "%.2f"))


class AnalyticsView(QWidget):
    """Tabs: views and watch time over time, QoE per title and per edge, cache hit ratio, encode cost."""

    def __init__(self, client: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.names: dict[str, str] = {}
        self.generation = 0
        self.in_flight = 0
        self.asked_at = 0.0
        self.window_picker = QComboBox(self)
        for window in WINDOWS:
            self.window_picker.addItem(window.label)
        self.window_picker.currentIndexChanged.connect(lambda _i: self.refresh())
        self.tabs = QTabWidget(self)
        self.panels = {key: ChartTable(key, metrics, self) for key, metrics in
                       (("views", ()), ("qoe_by_title", QOE), ("qoe_by_edge", QOE), ("cache_hit_ratio", ()),
                        ("encode_cost", ENCODE))}
        for key, label in (("views", "Views && watch time"), ("qoe_by_title", "QoE by title"),
                           ("qoe_by_edge", "QoE by edge"), ("cache_hit_ratio", "Cache hit ratio"),
                           ("encode_cost", "Encode cost")):
            self.tabs.addTab(self.panels[key], label)
        self.status = QLabel("", self)
        self.demo = DemoBanner(client, self)
        self._layout()
        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._soon = QTimer(self, singleShot=True, interval=EVENT_DELAY_MS)
        self._soon.timeout.connect(self.refresh)
        self.demo.changed.connect(self._soon.start)
        client.events.connect(self.on_events)

    def _layout(self) -> None:
        refresh = QPushButton("Refresh", self)
        refresh.clicked.connect(self.refresh)
        self.export_button = QPushButton("Export CSV…", self)
        self.export_button.clicked.connect(lambda: self.export_csv())
        bar = QHBoxLayout()
        for widget in (QLabel("Window:", self), self.window_picker, refresh, self.export_button):
            bar.addWidget(widget)
        bar.addStretch(1)
        column = QVBoxLayout(self)
        column.addLayout(bar)
        column.addWidget(self.demo)
        column.addWidget(self.tabs, 1)
        column.addWidget(self.status)

    @property
    def window_(self) -> Window:
        return WINDOWS[max(0, self.window_picker.currentIndex())]

    def showEvent(self, event: Any) -> None:
        """Refresh while visible only: a hidden view asks the server nothing."""
        self._timer.start()
        self.refresh()
        super().showEvent(event)

    def hideEvent(self, event: Any) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def on_events(self, events: list[dict[str, Any]]) -> None:
        """A burst of playback/CDN/encode/title events costs one refresh, `EVENT_DELAY_MS` later."""
        if self.isVisible() and not self._soon.isActive() and any(e.get("topic") in TOPICS for e in events):
            self._soon.start()

    # --- requests -----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Title names first (tables show names), then every query of every tab; answers of an older
        refresh are ignored."""
        if self.in_flight and time.monotonic() - self.asked_at < STUCK_S:
            return
        self.in_flight, self.asked_at = 0, time.monotonic()
        self.generation += 1
        generation = self.generation
        self.demo.refresh()
        self._ask("/api/titles", {"status": "all"}, generation, partial(self._titles, generation=generation))

    def _ask_queries(self, generation: int) -> None:
        now, window = time.time(), self.window_
        starts = window.boundaries(now)
        self._ask("/api/analytics/views_over_time", {"since": starts[0], "bucket_s": window.bucket_s,
                                                     "limit": 10_000}, generation,
                  lambda doc: self._engagement(doc.get("rows", []), starts))
        for name in ("qoe_by_title", "qoe_by_edge"):
            self._ask(f"/api/analytics/{name}", {"since": starts[0]}, generation, partial(self._qoe, name))
        self._ask("/api/analytics/cache_hit_ratio", {"since": starts[0], "bucket_s": window.bucket_s,
                                                     "limit": 10_000}, generation,
                  lambda doc: self._cache(doc.get("rows", []), starts))
        self._ask("/api/analytics/encode_cost", {}, generation, lambda doc: self._encode(doc.get("rows", [])))

    def _ask(self, path: str, params: dict[str, Any], generation: int, done: Callable[[Any], None]) -> None:
        self.in_flight += 1

        def ok(doc: Any) -> None:
            self.in_flight -= 1
            if generation == self.generation:
                done(doc)

        def failed(text: str) -> None:
            self.in_flight -= 1
            self.status.setText(f"Analytics unavailable: {text}")

        self.client.get(path, params=params, on_ok=ok, on_error=failed)

    def _titles(self, doc: dict[str, Any], generation: int) -> None:
        self.names = {t["video_id"]: t.get("title") or t["video_id"] for t in doc.get("titles", [])}
        self._ask_queries(generation)

    def title_of(self, video_id: str) -> str:
        return self.names.get(video_id, video_id)

    # --- tabs ---------------------------------------------------------------------------------------

    def _engagement(self, rows: list[dict[str, Any]], starts: list[int]) -> None:
        """One point per bucket of the window; a bucket nobody watched in has no row and counts 0."""
        by_start = {int(number(r, "bucket_start")): r for r in rows}
        views = [number(by_start.get(s, {}), "views") for s in starts]
        watch = [number(by_start.get(s, {}), "watch_minutes") for s in starts]
        table = [{"bucket_start": time.strftime("%Y-%m-%d %H:%M", time.localtime(s)), "views": int(v),
                  "watch_minutes": round(w, 2)} for s, v, w in zip(starts, views, watch, strict=True)]
        x = [float(s) for s in starts]
        lines = {"views": list(zip(x, views, strict=True)), "watch minutes": list(zip(x, watch, strict=True))}
        title = f"Views and watch time per {self.window_.unit}"
        columns = ["bucket_start", "views", "watch_minutes"]
        self.panels["views"].show_rows(columns, table, lambda _m: time_chart(
            title, lines, "views / minutes", (x[0], x[-1]), "%.1f", ticks=len(x)))

    def _qoe(self, name: str, doc: dict[str, Any]) -> None:
        rows: list[dict[str, Any]] = doc.get("rows", [])
        key = "video_id" if name == "qoe_by_title" else "edge"
        named = key == "video_id"
        table = [{**({"title": self.title_of(r.get(key, ""))} if named else {}), **r} for r in rows]
        columns = ([*(["title"] if key == "video_id" else []), *rows[0].keys()] if rows else
                   [key, "sessions", "startup_ms", "rebuffer_ratio", "avg_bitrate", "switches_per_min"])
        labels = [str(r.get("title") or r.get(key) or "?") for r in table]

        def build(metric: Metric | None) -> QChart:
            assert metric is not None
            values = [number(r, metric.key) * metric.scale for r in rows]
            title = f"{metric.label} per {'title' if named else 'edge'}"
            return bar_chart(title, labels, {metric.label: values}, metric.unit, metric.fmt)

        self.panels[name].show_rows(columns, table, build)

    def _cache(self, rows: list[dict[str, Any]], starts: list[int]) -> None:
        lines: dict[str, list[tuple[float, float]]] = {}
        for r in rows:
            point = (number(r, "bucket_start"), number(r, "hit_ratio") * 100)
            lines.setdefault(str(r.get("edge")), []).append(point)
        columns = list(rows[0].keys()) if rows else ["edge", "bucket_start", "requests", "hits", "hit_ratio"]
        self.panels["cache_hit_ratio"].show_rows(columns, rows, lambda _m: time_chart(
            "Cache hit ratio per edge (requests)", lines, "hit ratio %", (starts[0], starts[-1]), "%.0f",
            top=100.0, ticks=len(starts)))

    def _encode(self, rows: list[dict[str, Any]]) -> None:
        table = [{"title": self.title_of(r.get("video_id", "")), **r} for r in rows]
        columns = ["title", *rows[0].keys()] if rows else ["title", "video_id", "cpu_s", "wall_s"]

        def build(metric: Metric | None) -> QChart:
            assert metric is not None
            values = [number(r, metric.key) * metric.scale for r in rows]
            return bar_chart(f"Encode cost: {metric.label} per title", [t["title"] for t in table],
                             {metric.label: values}, metric.unit, metric.fmt)

        self.panels["encode_cost"].show_rows(columns, table, build)

    # --- export -------------------------------------------------------------------------------------

    def current(self) -> ChartTable:
        widget = self.tabs.currentWidget()
        assert isinstance(widget, ChartTable)
        return widget

    def export_csv(self, path: Path | None = None) -> Path | None:
        """The current tab's table as CSV; asks where with a file dialog unless `path` is given."""
        panel = self.current()
        if path is None:
            chosen, _filter = QFileDialog.getSaveFileName(self, "Export CSV", f"{panel.name}.csv",
                                                          "CSV files (*.csv)")
            if not chosen:
                return None
            path = Path(chosen)
        try:
            write_csv(path, panel.columns, panel.rows)
        except OSError as exc:
            self.status.setText(f"Could not write {path}: {exc.strerror or exc}. Pick another folder.")
            return None
        self.status.setText(f"Wrote {len(panel.rows)} rows of {panel.name} to {path}")
        return path

    def status_text(self) -> str:
        return self.status.text()
