"""Side panels of the player: live stats, and the viewer location with steering's ranked edges."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

SERVER_DEFAULT = ""
CUSTOM = "@latlon"
STAT_ROWS = (("edge", "Edge"), ("rung", "Rung"), ("bitrate", "Bitrate"), ("buffer_pct", "Buffer"),
             ("dropped_frames", "Dropped frames"), ("cache", "Edge cache"), ("state", "State"),
             ("size", "Video"))


def format_stat(key: str, stats: dict[str, Any]) -> str:
    """One overlay line's text from the session's stats dict."""
    value = stats.get(key)
    if key == "bitrate":
        return f"{int(value or 0) / 1000:.0f} kbit/s" + (" (Auto)" if stats.get("mode") == "auto" else "")
    if key == "buffer_pct":
        return f"{float(value or 0):.0f} %"
    if key == "cache":
        return f"{stats.get('hits', 0)} hits / {stats.get('misses', 0)} misses"
    if key == "size":
        width, height = value or (0, 0)
        return f"{width}x{height}" if width else "—"
    return str(value) if value not in (None, "") else "—"


class StatsPanel(QGroupBox):
    """The stats overlay: edge, rung and bitrate, buffer, dropped frames, hits/misses."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Stats", parent)
        form = QFormLayout(self)
        self.values: dict[str, QLabel] = {}
        for key, label in STAT_ROWS:
            self.values[key] = QLabel("—", self)
            self.values[key].setObjectName(f"stat_{key}")
            form.addRow(label, self.values[key])

    def show_stats(self, stats: dict[str, Any]) -> None:
        for key, label in self.values.items():
            text = format_stat(key, stats)
            if label.text() != text:
                label.setText(text)


class LocationPanel(QGroupBox):
    """Where the viewer is (a region or lat/lon) and how steering ranks the edges for that place."""

    location_changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Viewer location", parent)
        self.region = QComboBox(self)
        self.region.addItem("Server default", SERVER_DEFAULT)
        self.region.addItem("Custom lat, lon…", CUSTOM)
        self.latlon = QLineEdit(self, placeholderText="51.5, -0.1")
        self.apply = QPushButton("Steer", self)
        self.ranked = QTreeWidget(self)
        self.ranked.setHeaderLabels(["#", "Edge", "Region", "Score", "RTT", "Why"])
        self.ranked.setRootIsDecorated(False)
        self.region.currentIndexChanged.connect(self._picked)
        self.apply.clicked.connect(self._emit)
        self.latlon.returnPressed.connect(self._emit)
        self._layout()
        self._picked()

    def _layout(self) -> None:
        row = QHBoxLayout()
        for widget in (self.region, self.latlon, self.apply):
            row.addWidget(widget)
        column = QVBoxLayout(self)
        column.addLayout(row)
        column.addWidget(QLabel("Steering's ranking for this viewer:", self))
        column.addWidget(self.ranked, 1)

    def set_regions(self, regions: list[str]) -> None:
        known = {self.region.itemData(i) for i in range(self.region.count())}
        for name in regions:
            if name not in known:
                self.region.insertItem(self.region.count() - 1, name, name)

    def _picked(self) -> None:
        custom = self.region.currentData() == CUSTOM
        self.latlon.setEnabled(custom)
        self.apply.setEnabled(custom)
        if not custom:
            self._emit()

    def location(self) -> dict[str, str]:
        data = self.region.currentData()
        if data == CUSTOM:
            return {"latlon": self.latlon.text().replace(" ", "")}
        return {"region": data} if data else {}

    def _emit(self) -> None:
        self.location_changed.emit(self.location())

    def select_region(self, region: str) -> None:
        index = self.region.findData(region)
        if index >= 0:
            self.region.setCurrentIndex(index)

    def show_ranked(self, ranked: list[dict[str, Any]]) -> None:
        self.ranked.clear()
        for r in ranked:
            score = "down" if r.get("score") is None else f"{r['score']:.1f}"
            rtt = f"{r.get('est_rtt_ms', 0):.0f} ms" if r.get("est_rtt_ms") is not None else ""
            texts = [str(r.get("rank", "")), r.get("edge", ""), r.get("region", ""), score, rtt]
            item = QTreeWidgetItem([*texts, "; ".join(r.get("reasons", []))])
            item.setToolTip(5, "\n".join(r.get("reasons", [])))
            item.setDisabled(not r.get("eligible", True))
            self.ranked.addTopLevelItem(item)
        for column in range(5):
            self.ranked.resizeColumnToContents(column)
