"""Why these rungs: the selected title's bitrate-VMAF hull, one line per resolution, the chosen rungs.

A per-title ladder (`--ladder per-title`) keeps its analysis in the title's integrity report
(`per_title`: every measured point, the hull, the chosen rungs); this chart draws it. A title with
the fixed ladder has no analysis, and the panel says so in one line.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCharts import (
    QAbstractAxis,
    QChart,
    QChartView,
    QLineSeries,
    QLogValueAxis,
    QScatterSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from studio.client import ApiClient

FIXED_TEXT = ("<small>Fixed ladder: the same rungs for every title. Ingest with <code>--ladder "
              "per-title</code> to pick them from this title's measured bitrate&ndash;VMAF hull.</small>")
PREFERRED_HEIGHT = 300
HULL_COLOR, CHOSEN_COLOR = QColor("#222222"), QColor("#d64541")


def integrity_path(video_id: str) -> str:
    return f"/origin/videos/{video_id}/integrity.json"


LOG_FROM = 8.0  # a bitrate span this wide (max / min) gets a log axis; narrower, a log axis has no labels


def _bitrate_axis(kbps: list[float]) -> QAbstractAxis:
    low, high = min(kbps) / 1.2, max(kbps) * 1.2
    if high / low >= LOG_FROM:
        log_axis = QLogValueAxis()
        log_axis.setLabelFormat("%g")
        log_axis.setRange(low, high)
        log_axis.setTitleText("bitrate (kbit/s, log)")
        return log_axis
    axis = QValueAxis()
    axis.setRange(low, high)
    axis.applyNiceNumbers()  # round ticks (5, 6, 7 …) instead of 4.58333, 5.7775 …
    axis.setLabelFormat("%.0f" if axis.max() - axis.min() >= axis.tickCount() - 1 else "%.1f")
    axis.setTitleText("bitrate (kbit/s)")
    return axis


def _axes(points: list[dict[str, Any]]) -> tuple[QAbstractAxis, QValueAxis]:
    axis_x = _bitrate_axis([p["kbps"] for p in points] or [100.0, 1000.0])
    axis_y = QValueAxis()
    axis_y.setTitleText("VMAF")
    axis_y.setRange(max(0.0, min((p["vmaf"] for p in points), default=0.0) - 5), 100)
    axis_y.setLabelFormat("%.0f")
    return axis_x, axis_y


def _line(name: str, points: list[dict[str, Any]]) -> QLineSeries:
    series = QLineSeries()
    series.setName(name)
    series.setPointsVisible(True)
    for p in sorted(points, key=lambda p: p["kbps"]):
        series.append(float(p["kbps"]), float(p["vmaf"]))
    return series


def hull_chart(analysis: dict[str, Any]) -> QChart:
    """Each resolution's CRF curve, the hull over them (dashed), the chosen rungs (red dots)."""
    chart = QChart()
    chart.setTitle("Why these rungs: bitrate vs VMAF")
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
    chart.setMargins(QMargins(2, 2, 2, 2))
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
    points = analysis.get("points", [])
    sizes = {p["name"]: p["width"] * p["height"] for p in points}
    names = sorted(sizes, key=lambda n: -sizes[n])
    series: list[Any] = [_line(n, [p for p in points if p["name"] == n]) for n in names]
    hull = _line("hull", analysis.get("hull", []))
    hull.setPen(QPen(HULL_COLOR, 2, Qt.PenStyle.DashLine))
    chosen = QScatterSeries()
    chosen.setName("chosen rungs")
    chosen.setColor(CHOSEN_COLOR)
    chosen.setMarkerSize(12)
    for p in analysis.get("chosen", []):
        chosen.append(float(p["kbps"]), float(p["vmaf"]))
    axis_x, axis_y = _axes(points)
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    for s in [*series, hull, chosen]:
        chart.addSeries(s)
        s.attachAxis(axis_x)
        s.attachAxis(axis_y)
    return chart


def summary_html(analysis: dict[str, Any]) -> str:
    """One line under the chart: the rungs chosen and what the analysis cost."""
    rungs = ", ".join(f"{p['name']} {p['kbps']:.0f}k (VMAF {p['vmaf']:.0f})"
                      for p in analysis.get("chosen", []))
    return f"<small><b>Per-title ladder</b>: {rungs} · analysed in {analysis.get('seconds', 0):.0f} s</small>"


class LadderPanel(QWidget):
    """The hull chart of the selected title (fetched from its integrity report), or why there is none."""

    def __init__(self, client: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.video_id = ""
        self.analysis: dict[str, Any] | None = None
        self._claimed = False
        self.view = QChartView(self)
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.view.setMinimumHeight(120)  # the column above it is tall already: never grow the window
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        self.show_analysis(None)

    def sizeHint(self) -> QSize:
        """Room for a readable chart when its column is shared out (its minimum stays small)."""
        return QSize(320, PREFERRED_HEIGHT)

    def show_title(self, title: dict[str, Any] | None) -> None:
        """Ask for the title's integrity report; answers for a title no longer selected are dropped."""
        self.video_id = title["video_id"] if title else ""
        self.show_analysis(None)
        if title:
            video_id = self.video_id
            self.client.get(integrity_path(video_id), on_ok=lambda report: self._report(video_id, report),
                            on_error=lambda _err: None)

    def _report(self, video_id: str, report: dict[str, Any]) -> None:
        if video_id == self.video_id:
            self.show_analysis(report.get("per_title"))

    def show_analysis(self, analysis: dict[str, Any] | None) -> None:
        """Draw `analysis` (an integrity report's `per_title`), or the fixed-ladder line for None."""
        self.analysis = analysis
        self.view.setVisible(bool(analysis))
        if analysis:
            old = self.view.chart()
            self.view.setChart(hull_chart(analysis))
            if old is not None:
                old.deleteLater()
        self.caption.setText(summary_html(analysis) if analysis else (FIXED_TEXT if self.video_id else ""))
        if analysis and not self._claimed:
            self._claimed = True
            self._claim_share()

    def _claim_share(self) -> None:
        """The first chart gets room in the column it shares (the grid above it would otherwise keep
        it at its minimum); the user's splitter moves after that are kept."""
        column = self.parentWidget()
        if not isinstance(column, QSplitter):
            return
        sizes, mine = column.sizes(), column.indexOf(self)
        total, want = sum(sizes), min(PREFERRED_HEIGHT, sum(sizes) * 2 // 5)
        if sizes[mine] >= want or total - sizes[mine] <= 0:
            return
        scale = (total - want) / (total - sizes[mine])
        column.setSizes([want if i == mine else int(size * scale) for i, size in enumerate(sizes)])


def detail_column(parent: QWidget, editor: QWidget) -> QSplitter:
    """The Library's right-hand column (the title editor, then what is added below it), resizable."""
    column = QSplitter(Qt.Orientation.Vertical, parent)
    column.setObjectName("libraryDetail")
    column.addWidget(editor)
    return column


def grid_column(parent: QWidget, grid: QWidget, ladder: LadderPanel) -> QSplitter:
    """The poster grid above the selected title's hull chart: the grid has room to spare, the detail
    column (editor, tracks) has none."""
    column = QSplitter(Qt.Orientation.Vertical, parent)
    column.setObjectName("libraryGridColumn")
    column.addWidget(grid)
    column.addWidget(ladder)
    column.setStretchFactor(0, 3)
    column.setStretchFactor(1, 1)
    column.setCollapsible(0, False)
    return column
