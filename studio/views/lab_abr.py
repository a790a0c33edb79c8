"""The Lab view's ABR tab: simulated viewers play a published title's real segments over a bandwidth
trace on the server (`GET /api/lab/abr`), every ABR algorithm on the same traces; a bar chart of QoE
per algorithm (p5, mean, p95), one session's buffer and rung over time, the ladder suggestions, and
Export CSV of the per-algorithm figures.

The simulation runs on the server; the request is asynchronous, so the GUI stays live while it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QCategoryAxis,
    QChart,
    QLineSeries,
    QValueAxis,
)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from studio.views.analytics_charts import base_chart
from studio.views.lab_tab import LabTab, Reply, TitlePicker

# The server's ABR algorithms and built-in traces (the studio imports no engine module; the server
# checks the names).
ALGORITHMS = ("throughput", "bba", "bola", "dynamic", "mpc")
TRACES = (("Mobile (Markov, seeded)", "mobile"), ("Steps", "steps"), ("Steady 1 Mbit/s", "steady:1M"),
          ("Steady 5 Mbit/s", "steady:5M"), ("Steady 20 Mbit/s", "steady:20M"))
METRICS = ("qoe", "avg_kbps", "rebuffer_s", "rebuffer_ratio", "startup_s", "switches")
COLUMNS = ["algorithm", *(f"{m}_{s}" for m in METRICS for s in ("mean", "p5", "p50", "p95"))]
TICK_MS = 200


def qoe_chart(stats: dict[str, dict[str, Any]]) -> QChart:
    """QoE per algorithm: p5, mean and p95 bars (QoE may be negative: the axis spans zero)."""
    chart = base_chart("QoE per algorithm (QoE_lin: Mbit/s - 4.3 x rebuffer s - 1 x switch Mbit/s)")
    series = QBarSeries()
    values = []
    for key, label in (("p5", "p5"), ("mean", "mean"), ("p95", "p95")):
        bar_set = QBarSet(label)
        row = [float(s["qoe"][key]) for s in stats.values()]
        bar_set.append(row)
        values += row
        series.append(bar_set)
    chart.addSeries(series)
    axis_x = QBarCategoryAxis()
    axis_x.append(list(stats) or ["(none)"])
    axis_y = QValueAxis()
    axis_y.setTitleText("QoE")
    low, high = min([0.0, *values]), max([0.0, *values])
    axis_y.setRange(low * 1.15, high * 1.15 if high > 0 else 1.0)
    axis_y.setLabelFormat("%.0f")
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis_x)
    series.attachAxis(axis_y)
    return chart


def timeline_chart(algorithm: str, timeline: list[dict[str, Any]], rungs: list[str]) -> QChart:
    """One session: buffer level (s, left axis) and the rung fetched (right axis) over time."""
    chart = base_chart(f"Session 1 with {algorithm}: buffer and rung over time")
    axis_x = QValueAxis()
    axis_x.setTitleText("time (s)")
    axis_x.setRange(0, max([1.0, *(float(s["t"]) for s in timeline)]))
    axis_buffer = QValueAxis()
    axis_buffer.setTitleText("buffer (s)")
    axis_buffer.setRange(0, max([1.0, *(float(s["buffer_s"]) for s in timeline)]) * 1.15)
    axis_rung = QCategoryAxis()
    axis_rung.setTitleText("rung")
    axis_rung.setRange(-0.3, max(len(rungs) - 1, 1) + 0.3)
    axis_rung.setLabelsPosition(QCategoryAxis.AxisLabelsPosition.AxisLabelsPositionOnValue)
    for index, name in enumerate(rungs):
        axis_rung.append(name, index)
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(axis_buffer, Qt.AlignmentFlag.AlignLeft)
    chart.addAxis(axis_rung, Qt.AlignmentFlag.AlignRight)
    buffer, rung = QLineSeries(), QLineSeries()
    buffer.setName("buffer (s)")
    rung.setName("rung")
    fetched_from = 0.0
    for step in timeline:   # the rung as steps: each segment's rung from the previous arrival to its own
        buffer.append(float(step["t"]), float(step["buffer_s"]))
        rung.append(fetched_from, float(step["rung"]))
        rung.append(float(step["t"]), float(step["rung"]))
        fetched_from = float(step["t"])
    buffer.setPointsVisible(True)
    for series, axis in ((buffer, axis_buffer), (rung, axis_rung)):
        chart.addSeries(series)
        series.attachAxis(axis_x)
        series.attachAxis(axis)
    return chart


class AbrTab(LabTab):
    """Title, trace, algorithms, sessions and RTT; Run (asynchronous); the two charts, the suggestions,
    a table of every algorithm's figures, and Export CSV of that table."""

    waiting, name, csv_name, columns = "Simulating", "ABR lab", "abr.csv", COLUMNS

    def _inputs(self) -> None:
        self.title = TitlePicker(self.client, self, video_only=True, on_error=self.status.setText)
        self.trace = QComboBox(self)
        for label, value in TRACES:
            self.trace.addItem(label, value)
        self.algorithms = {name: QCheckBox(name, self) for name in ALGORITHMS}
        for box in self.algorithms.values():
            box.setChecked(True)
        self.sessions = QSpinBox(self, minimum=1, maximum=200, value=20)
        self.sessions.setToolTip("Simulated viewers per algorithm, each on its own seeded trace")
        self.rtt = QSpinBox(self, minimum=0, maximum=2000, value=40, suffix=" ms")
        self.utility = QComboBox(self)
        for label, value in (("bitrate (Mbit/s)", "bitrate"), ("VMAF", "vmaf")):
            self.utility.addItem(label, value)
        self.utility.setToolTip("QoE utility per segment: its rung's bitrate, or its rung's measured VMAF "
                                "(rebuffering then costs 100 per second)")

    def _outputs(self) -> None:
        self.headline = self.headline_label("Pick a title and a trace, then Run.")
        self.suggestions = self.sentence_label()
        self.qoe, self.timeline = self.chart_view(), self.chart_view()
        self.sample = QComboBox(self)
        self.sample.setToolTip("The algorithm whose first session the timeline shows")
        self.sample.currentIndexChanged.connect(lambda _i: self._draw_timeline())
        self.table.setMaximumHeight(220)

    def _layout(self) -> None:
        widget: QWidget   # the loops below place widgets of several kinds
        form = QHBoxLayout()
        for widget in (QLabel("Title:", self), self.title, QLabel("Trace:", self), self.trace,
                       QLabel("Sessions:", self), self.sessions, QLabel("RTT:", self), self.rtt,
                       QLabel("QoE utility:", self), self.utility):
            form.addWidget(widget)
        form.addStretch(1)
        actions = self.actions_row("Algorithms:", list(self.algorithms.values()),
                                   QLabel("Timeline of:", self), self.sample)
        charts = self.side_by_side(self.qoe, self.timeline)
        self.stack((form, actions), (self.headline, self.suggestions), charts)

    # --- running ------------------------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        """The query of `GET /api/lab/abr` for the inputs as they are."""
        chosen = [name for name, box in self.algorithms.items() if box.isChecked()]
        return {"title": self.title.currentData() or "", "trace": self.trace.currentData(),
                "algorithms": ",".join(chosen) or "all", "sessions": self.sessions.value(),
                "rtt_ms": self.rtt.value(), "utility": self.utility.currentData()}

    def request(self, params: dict[str, Any], on_ok: Reply, on_error: Callable[[str], None]) -> None:
        self.client.lab_abr(params, on_ok=on_ok, on_error=on_error)

    def show_result(self, result: dict[str, Any]) -> None:
        """Charts, headline, suggestions and table of one run."""
        self.finished(result)
        stats = {a["name"]: a["stats"] for a in result.get("algorithms", [])}
        best = max(stats, key=lambda n: stats[n]["qoe"]["mean"], default="")
        unit = "VMAF" if result.get("settings", {}).get("utility") == "vmaf" else "Mbit/s"
        self.headline.setText(f"Best mean QoE ({unit} utility): {best} ({stats[best]['qoe']['mean']:.1f})"
                              if best else "")
        self.suggestions.setText("\n".join(result.get("suggestions", [])) or "Every rung was used.")
        self.set_chart(self.qoe, qoe_chart(stats))
        self.sample.blockSignals(True)
        self.sample.clear()
        self.sample.addItems(list(stats))
        self.sample.blockSignals(False)
        self._draw_timeline()
        self._fill_table(stats)
        t = result.get("title", {})
        self.status.setText(f"{t.get('video_id')}: {t.get('segments')} segments, "
                            f"{' / '.join(r['name'] for r in t.get('rungs', []))}; "
                            f"{self.elapsed()}")

    def _draw_timeline(self) -> None:
        name = self.sample.currentText()
        algorithms = {a["name"]: a for a in (self.result or {}).get("algorithms", [])}
        if name not in algorithms:
            return
        rungs = [r["name"] for r in (self.result or {}).get("title", {}).get("rungs", [])]
        self.set_chart(self.timeline, timeline_chart(name, algorithms[name]["sample"]["timeline"], rungs))

    def rows(self) -> list[dict[str, Any]]:
        """One row per algorithm under `COLUMNS` (the table and the CSV)."""
        algorithms = (self.result or {}).get("algorithms", [])
        return [{"algorithm": a["name"], **{f"{m}_{s}": a["stats"][m][s] for m in METRICS
                                            for s in ("mean", "p5", "p50", "p95")}}
                for a in algorithms]

    def _fill_table(self, stats: dict[str, Any]) -> None:
        self.fill_table(["algorithm", "QoE mean", "QoE p5", "QoE p95", "kbit/s", "rebuffer s", "rebuffer %",
                         "startup s", "switches"],
                        [[name, f"{s['qoe']['mean']:.2f}", f"{s['qoe']['p5']:.2f}", f"{s['qoe']['p95']:.2f}",
                          f"{s['avg_kbps']['mean']:.0f}", f"{s['rebuffer_s']['mean']:.2f}",
                          f"{s['rebuffer_ratio']['mean']:.1%}", f"{s['startup_s']['mean']:.2f}",
                          f"{s['switches']['mean']:.1f}"] for name, s in stats.items()])
