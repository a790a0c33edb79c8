"""Charts for the analytics view, built from the rows of the server's named queries (pure functions of
the rows: no requests here), plus the arithmetic that turns cumulative "since" totals into buckets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QDateTimeAxis,
    QLineSeries,
    QValueAxis,
)
from PySide6.QtCore import QDateTime, QMargins, Qt

MAX_CATEGORIES = 12  # bars beyond this are unreadable; the table has every row


@dataclass(frozen=True)
class Window:
    """A time window split into buckets: `Last 12 hours` = 12 buckets of 3600 s, the last one now."""

    label: str
    buckets: int
    bucket_s: int
    unit: str

    def boundaries(self, now: float) -> list[int]:
        """Bucket starts, oldest first, aligned to whole buckets (the playback rollup counts whole hours)."""
        end = int(now // self.bucket_s * self.bucket_s) + self.bucket_s
        return [end - (self.buckets - i) * self.bucket_s for i in range(self.buckets)]


WINDOWS = (Window("Last 12 hours", 12, 3600, "hour"), Window("Last 2 days", 12, 4 * 3600, "4 hours"),
           Window("Last 7 days", 7, 86400, "day"))


def base_chart(title: str) -> QChart:
    chart = QChart()
    chart.setTitle(title)
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
    chart.setMargins(QMargins(4, 4, 4, 4))
    return chart


def value_axis(title: str, top: float, fmt: str = "%.0f") -> QValueAxis:
    axis = QValueAxis()
    axis.setTitleText(title)
    axis.setRange(0, top * 1.15 if top > 0 else 1)
    axis.setLabelFormat(fmt)
    return axis


def bar_chart(title: str, categories: list[str], sets: dict[str, list[float]], unit: str,
              fmt: str = "%.0f") -> QChart:
    """Grouped bars: one set per metric in `sets`, one group per category (first `MAX_CATEGORIES`)."""
    chart = base_chart(title)
    series = QBarSeries()
    for name, values in sets.items():
        bar_set = QBarSet(name)
        bar_set.append([float(v) for v in values[:MAX_CATEGORIES]])
        series.append(bar_set)
    chart.addSeries(series)
    axis_x = QBarCategoryAxis()
    axis_x.append([c[:18] for c in categories[:MAX_CATEGORIES]] or ["(no data yet)"])
    top = max((float(v) for values in sets.values() for v in values[:MAX_CATEGORIES]), default=0.0)
    axis_y = value_axis(unit, top, fmt)
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis_x)
    series.attachAxis(axis_y)
    return chart


def time_chart(title: str, lines: dict[str, list[tuple[float, float]]], unit: str, span: tuple[float, float],
               fmt: str = "%.0f", top: float | None = None, ticks: int = 5) -> QChart:
    """Lines over epoch-second x values, one per key; the x axis covers `span` (first to last bucket
    start) even with no points, with `ticks` labels so each lands on a bucket start."""
    chart = base_chart(title)
    axis_x = QDateTimeAxis()
    axis_x.setFormat("HH:mm" if span[1] - span[0] <= 86400 else "dd MMM HH:mm")
    axis_x.setTickCount(max(2, ticks))
    axis_x.setRange(QDateTime.fromSecsSinceEpoch(int(span[0])), QDateTime.fromSecsSinceEpoch(int(span[1])))
    peak = max((y for points in lines.values() for _x, y in points), default=0.0)
    axis_y = value_axis(unit, peak if top is None else top / 1.15, fmt)
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    for name, points in sorted(lines.items()):
        series = QLineSeries()
        series.setName(name)
        series.setPointsVisible(True)
        for x, y in sorted(points):
            series.append(x * 1000.0, y)
        chart.addSeries(series)
        series.attachAxis(axis_x)
        series.attachAxis(axis_y)
    return chart


def number(row: dict[str, Any], key: str) -> float:
    """A numeric cell, 0 for NULL (None) or a missing or malformed value."""
    try:
        return float(row.get(key) or 0)
    except (TypeError, ValueError):
        return 0.0
