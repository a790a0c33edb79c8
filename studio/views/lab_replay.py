"""The Lab view's Replay tab: replay the edges' requests (or a generated trace) against other cache
sizes, policies, edge counts and TTLs on the server (`GET /api/lab/replay`), chart hit ratio against
cache size per policy with Belady's MIN as the ceiling, say how much cache the target needs, export CSV.

The replay runs on the server; the request is asynchronous, so the GUI stays live while it runs and
shows a busy bar with the elapsed time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCharts import QChart, QLineSeries, QLogValueAxis
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from studio.views.analytics_charts import base_chart, value_axis
from studio.views.lab_tab import LabTab, Reply

# The server's eviction policies (the studio imports no engine module; the server checks the names).
POLICIES = ("lru", "fifo", "s3fifo", "wtinylfu")
TRACES = (("Recorded edge requests", "recorded"), ("Generated: Zipf requests", "zipf"),
          ("Generated: viewing sessions", "sessions"))
BELADY = "belady"
COLUMNS = ["policy", "cache_bytes", "edges", "ttl_s", "requests", "hits", "hit_ratio", "bytes", "hit_bytes",
           "byte_hit_ratio", "origin_bytes", "p95_ms", "fill_bytes"]
FILL_PERIODS = (("daily", 86400), ("hourly", 3600), ("every 10 min", 600))
TICK_MS = 200
MIB = 1024 * 1024


def sweep_chart(points: list[dict[str, Any]], target: float) -> QChart:
    """Hit ratio (%) against cache size per edge (MiB, log scale): one line per policy, MIN dashed,
    the target as a dotted line."""
    chart = base_chart("Hit ratio by cache size per edge")
    sizes = sorted({p["cache_bytes"] / MIB for p in points}) or [1.0]
    axis_x = QLogValueAxis()
    axis_x.setBase(2)
    axis_x.setTitleText("cache per edge (MiB, log scale)")
    axis_x.setLabelFormat("%g")
    axis_x.setRange(sizes[0] / 1.5, sizes[-1] * 1.5)
    axis_y = value_axis("hit ratio %", 100 / 1.15, "%.0f")
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    lines: dict[str, list[tuple[float, float]]] = {}
    for p in points:
        lines.setdefault(p["policy"], []).append((p["cache_bytes"] / MIB, p["hit_ratio"] * 100))
    for name, xy in lines.items():
        _line(chart, "Belady's MIN (ceiling)" if name == BELADY else name, sorted(xy), axis_x, axis_y,
              Qt.PenStyle.DashLine if name == BELADY else None)
    _line(chart, f"target {target:.0%}", [(sizes[0] / 1.5, target * 100), (sizes[-1] * 1.5, target * 100)],
          axis_x, axis_y, Qt.PenStyle.DotLine)
    return chart


def _line(chart: QChart, name: str, xy: list[tuple[float, float]], axis_x: Any, axis_y: Any,
          style: Qt.PenStyle | None) -> QLineSeries:
    series = QLineSeries()
    series.setName(name)
    series.setPointsVisible(style != Qt.PenStyle.DotLine)
    for x, y in xy:
        series.append(x, y)
    chart.addSeries(series)
    series.attachAxis(axis_x)
    series.attachAxis(axis_y)
    if style is not None:
        pen = QPen(series.pen() if style != Qt.PenStyle.DotLine else QColor("gray"))
        pen.setStyle(style)
        pen.setWidth(2)
        series.setPen(pen)
    return series


def size_text(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024:
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"


class ReplayTab(LabTab):
    """Inputs, Run (asynchronous, with a busy bar), the sweep chart, the needed-size sentence, a table
    of every point, and Export CSV of that table."""

    waiting, name, csv_name, columns = "Replaying", "Replay", "replay.csv", COLUMNS

    def _inputs(self) -> None:
        self.trace = QComboBox(self)
        for label, value in TRACES:
            self.trace.addItem(label, value)
        self.sizes = QLineEdit("64M,256M,1G,4G", self)
        self.sizes.setMinimumWidth(180)
        self.sizes.setToolTip("Cache sizes per edge, comma-separated (K, M, G: binary units)")
        self.policies = {name: QCheckBox(name, self) for name in POLICIES}
        for box in self.policies.values():
            box.setChecked(True)
        self.edges = QSpinBox(self, minimum=1, maximum=256, value=1)
        self.edges.setToolTip("Edges sharing the requests, each title on its home edge (consistent hashing)")
        self.ttl = QSpinBox(self, minimum=0, maximum=10**8, value=0, suffix=" s")
        self.ttl.setSpecialValueText("never")
        self.requests = QSpinBox(self, minimum=1000, maximum=1_000_000, value=200_000, singleStep=50_000)
        self.requests.setToolTip("Requests of a generated trace (a recorded trace has what the edges served)")
        self.target = QDoubleSpinBox(self, minimum=0.05, maximum=0.99, value=0.9, singleStep=0.05, decimals=2)
        self.fill = QSpinBox(self, minimum=0, maximum=10_000, value=0, prefix="top ", suffix=" titles")
        self.fill.setSpecialValueText("no fill")
        self.fill.setToolTip("Proactive fill: push the titles most requested in the last period to their "
                             "home edges at each period's start (pushed bytes are counted apart)")
        self.fill_period = QComboBox(self)
        for label, seconds in FILL_PERIODS:
            self.fill_period.addItem(label, seconds)

    def _outputs(self) -> None:
        self.headline = self.headline_label("Pick a trace and cache sizes, then Run.")
        self.details = self.sentence_label()
        self.chart = self.chart_view(min_height=260)

    def _layout(self) -> None:
        widget: QWidget   # the loops below place widgets of several kinds
        form = QHBoxLayout()
        for widget in (QLabel("Trace:", self), self.trace, QLabel("Sizes:", self), self.sizes,
                       QLabel("Requests:", self), self.requests, QLabel("Edges:", self), self.edges,
                       QLabel("TTL:", self), self.ttl, QLabel("Target:", self), self.target):
            form.addWidget(widget)
        form.addStretch(1)
        actions = self.actions_row("Policies:", [*self.policies.values(), QLabel("Fill:", self), self.fill,
                                                 self.fill_period])
        self.stack((form, actions), (self.headline, self.details), self.chart)

    # --- running ------------------------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        """The query of `GET /api/lab/replay` for the inputs as they are."""
        chosen = [name for name, box in self.policies.items() if box.isChecked()]
        return {"trace": self.trace.currentData(), "sizes": self.sizes.text().strip(),
                "policies": ",".join(chosen) or "all", "edges": self.edges.value(),
                "ttl": self.ttl.value(), "target": round(self.target.value(), 4),
                "requests": self.requests.value(), "fill": self.fill.value(),
                "fill_period": self.fill_period.currentData()}

    def request(self, params: dict[str, Any], on_ok: Reply, on_error: Callable[[str], None]) -> None:
        self.client.lab_replay(params, on_ok=on_ok, on_error=on_error)

    def show_result(self, result: dict[str, Any]) -> None:
        """Chart, sentences and table of one sweep."""
        self.finished(result)
        points = result.get("points", [])
        target = float(result.get("settings", {}).get("target", 0.9))
        self.headline.setText(result.get("headline", ""))
        self.details.setText("\n".join(n.get("sentence", "") for n in result.get("needed", [])))
        self.set_chart(self.chart, sweep_chart(points, target))
        self._fill_table(points)
        trace = result.get("trace", {})
        self.status.setText(f"{trace.get('kind')} trace: {trace.get('requests', 0):,} requests, "
                            f"{trace.get('objects', 0):,} objects, {size_text(trace.get('bytes', 0))}; "
                            f"{self.elapsed()}")

    def _fill_table(self, points: list[dict[str, Any]]) -> None:
        filled = any(p.get("fill_bytes") for p in points)
        headers = ["policy", "cache/edge", "hit ratio", "byte hit ratio", "origin egress", "p95 ms"]
        self.fill_table([*headers, *(["pushed by fill"] if filled else [])],
                        [["MIN" if p["policy"] == BELADY else p["policy"], size_text(p["cache_bytes"]),
                          f"{p['hit_ratio']:.1%}", f"{p['byte_hit_ratio']:.1%}", size_text(p["origin_bytes"]),
                          "-" if p.get("p95_ms") is None else f"{p['p95_ms']:.0f}",
                          *([size_text(p.get("fill_bytes", 0))] if filled else [])] for p in points])

    def rows(self) -> list[dict[str, Any]]:
        """Every point of the last sweep (raw numbers), as the CSV has them."""
        return list((self.result or {}).get("points", []))
