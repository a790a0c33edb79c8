"""Network view: the CDN live on a world map (from `GET /api/edges`, ~1 s and on `cdn` events), edge controls
(stop/start, throttle) and the feed of steering decisions with their reasons (`steering` events).

Break an edge here mid-play and the player, hearing its health event, steers to another edge; the
feed shows the new decision and why the broken edge lost.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.views.network_diagram import NetworkDiagram, card_lines

REFRESH_MS = 1000
EVENT_REFRESH_MS = 100   # cdn events batch into one refresh this soon after the first
FEED_ROWS = 200


class EdgePanel(QGroupBox):
    """The selected edge: its numbers, Stop/Start, and a bandwidth cap (0 = no cap)."""

    stop_requested = Signal(str)
    start_requested = Signal(str)
    throttle_requested = Signal(str, object)  # name, Mbit/s or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Edge", parent)
        self.name = ""
        self.healthy = False
        self.details = QLabel("Click an edge in the diagram.", self)
        self.details.setWordWrap(True)
        self.toggle = QPushButton("Stop edge", self)
        self.toggle.clicked.connect(self._toggle)
        self.mbps = QDoubleSpinBox(self)
        self.mbps.setRange(0.0, 10_000.0)
        self.mbps.setDecimals(1)
        self.mbps.setSuffix(" Mbit/s")
        self.mbps.setSpecialValueText("no cap")
        self.cap = QPushButton("Apply cap", self)
        self.cap.clicked.connect(lambda: self.throttle_requested.emit(self.name, self.mbps.value() or None))
        form = QFormLayout(self)
        form.addRow(self.details)
        form.addRow(self.toggle)
        row = QHBoxLayout()
        row.addWidget(self.mbps)
        row.addWidget(self.cap)
        form.addRow("Throttle", row)
        self.show_edge(None)

    def _toggle(self) -> None:
        (self.stop_requested if self.healthy else self.start_requested).emit(self.name)

    def show_edge(self, edge: dict[str, Any] | None) -> None:
        for widget in (self.toggle, self.mbps, self.cap):
            widget.setEnabled(edge is not None)
        if edge is None:
            return
        changed = edge["name"] != self.name
        self.name, self.healthy = edge["name"], bool(edge.get("healthy"))
        self.setTitle(f"Edge {self.name} ({edge.get('region', '')})")
        counts = (f"{edge.get('objects', 0)} objects, {edge.get('hits', 0)} hits / {edge.get('misses', 0)} "
                  f"misses, RTT {edge.get('rtt_ms', '?')} ms, policy {edge.get('policy', '?')}")
        self.details.setText("\n".join([*card_lines(edge), counts]))
        self.toggle.setText("Stop edge" if self.healthy else "Start edge")
        if changed:
            self.mbps.setValue(float(edge.get("bandwidth_mbps") or 0) if edge.get("bandwidth_mbps") else 0.0)


class SteeringFeed(QTreeWidget):
    """Newest steering decision on top: who asked from where, which edge won, each candidate's reasons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Time", "Title", "Viewer", "Chosen", "Why"])
        self.setAlternatingRowColors(True)

    def add(self, value: dict[str, Any], title: str = "") -> None:
        candidates = value.get("candidates", [])
        chosen = value.get("chosen", "")
        why = next(("; ".join(c.get("reasons", [])) for c in candidates if c.get("edge") == chosen), "")
        lost = [f"{c['edge']}: {c['reasons'][0]}" for c in candidates
                if c.get("reasons") and c["reasons"][0].startswith("down")]
        latlon = ",".join(str(x) for x in value.get("client_latlon") or [])
        viewer = value.get("client_region") or latlon or "default"
        stamp = time.strftime("%H:%M:%S", time.localtime(float(value.get("at") or time.time())))
        item = QTreeWidgetItem([stamp, title or value.get("video_id", ""), viewer, chosen or "none",
                                "; ".join([why, *lost]) if lost else why])
        for c in candidates:
            item.addChild(QTreeWidgetItem(["", "", f"#{c.get('rank', '')}", c.get("edge", ""),
                                           "; ".join(c.get("reasons", []))]))
        self.insertTopLevelItem(0, item)
        while self.topLevelItemCount() > FEED_ROWS:
            self.takeTopLevelItem(self.topLevelItemCount() - 1)

    def texts(self) -> list[str]:
        """Every row's text joined (tests and the status line read the feed this way)."""
        rows = []
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item is not None:
                rows.append(" | ".join(item.text(c) for c in range(self.columnCount())))
        return rows


class NetworkView(QWidget):
    """Regions and edges live, edge controls, and the steering feed."""

    def __init__(self, client: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.edges: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}  # video id -> title, for the feed
        self._in_flight = False
        self.diagram = NetworkDiagram(self)
        self.panel = EdgePanel(self)
        self.feed = SteeringFeed(self)
        self.status = QLabel("", self)
        self._layout()
        self.diagram.edge_clicked.connect(self.select_edge)
        self.panel.stop_requested.connect(lambda name: self.edge_action(name, "stop"))
        self.panel.start_requested.connect(lambda name: self.edge_action(name, "start"))
        self.panel.throttle_requested.connect(self.throttle)
        client.events.connect(self.on_events)
        self.load_names()
        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._soon = QTimer(self, singleShot=True, interval=EVENT_REFRESH_MS)
        self._soon.timeout.connect(self.refresh)

    def showEvent(self, event: Any) -> None:
        """Poll only while visible (a hidden view costs the server nothing)."""
        self._timer.start()
        self.refresh()
        self.load_names()
        super().showEvent(event)

    def hideEvent(self, event: Any) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def _layout(self) -> None:
        scroll = QScrollArea(self)
        scroll.setWidget(self.diagram)
        scroll.setWidgetResizable(True)
        top = QSplitter(Qt.Orientation.Horizontal, self)
        top.addWidget(scroll)
        top.addWidget(self.panel)
        top.setStretchFactor(0, 4)
        feed = QGroupBox("Steering decisions (newest first)", self)
        QVBoxLayout(feed).addWidget(self.feed)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(top)
        self.splitter.addWidget(feed)
        self.splitter.setStretchFactor(0, 3)   # the map gets most of the height
        self.splitter.setStretchFactor(1, 1)
        column = QVBoxLayout(self)
        column.addWidget(self.splitter, 1)
        column.addWidget(self.status)

    def refresh(self) -> None:
        """One `GET /api/edges` at a time; a refresh asked while one is in flight is dropped."""
        if self._in_flight:
            return
        self._in_flight = True
        self.client.get("/api/edges", on_ok=self._edges, on_error=self._failed)

    def load_names(self) -> None:
        self.client.get("/api/titles", {"status": "all"}, on_ok=self._names, on_error=lambda _text: None)

    def _names(self, doc: dict[str, Any]) -> None:
        self.names = {t["video_id"]: t.get("title") or t["video_id"] for t in doc.get("titles", [])}

    def _edges(self, doc: dict[str, Any]) -> None:
        self._in_flight = False
        self.edges = doc.get("edges", [])
        self.diagram.set_edges(self.edges)
        self.panel.show_edge(self.edge(self.panel.name))

    def _failed(self, text: str) -> None:
        self._in_flight = False
        self.status.setText(f"Edges unavailable: {text}")

    def edge(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.edges if e.get("name") == name), None)

    def select_edge(self, name: str) -> None:
        self.diagram.select(name)
        self.panel.show_edge(self.edge(name))

    def edge_action(self, name: str, action: str) -> None:
        """`stop` or `start` the edge's listener (`POST /api/edges/<name>/<action>`)."""
        self.status.setText(f"{'Stopping' if action == 'stop' else 'Starting'} {name}…")
        self.client.post(f"/api/edges/{name}/{action}", on_ok=lambda edge: self._acted(edge, action),
                         on_error=self._failed)

    def _acted(self, edge: dict[str, Any], action: str) -> None:
        self.status.setText(f"{edge.get('name')} {'stopped' if action == 'stop' else 'started'}"
                            f" — {'healthy' if edge.get('healthy') else 'down'}")
        self.refresh_soon()

    def throttle(self, name: str, mbps: float | None) -> None:
        self.client.post(f"/api/edges/{name}/throttle", {"mbps": mbps},
                         on_ok=lambda _edge: self._throttled(name, mbps), on_error=self._failed)

    def _throttled(self, name: str, mbps: float | None) -> None:
        self.status.setText(f"{name}: link capped at {mbps:g} Mbit/s" if mbps else f"{name}: cap removed")
        self.refresh_soon()

    def refresh_soon(self) -> None:
        if not self._soon.isActive():
            self._soon.start()

    def on_events(self, events: list[dict[str, Any]]) -> None:
        """Steering decisions go to the feed; any `cdn` event batch triggers one early refresh."""
        for event in events:
            value = event.get("value", {})
            if event.get("topic") == "steering":
                self.feed.add(value, self.names.get(value.get("video_id", ""), ""))
                self.show_decision(value)
            elif event.get("topic") == "videos" and isinstance(value.get("title"), dict):
                self.names[value["video_id"]] = value["title"].get("title") or value["video_id"]
        if any(e.get("topic") == "cdn" for e in events):
            self.refresh_soon()

    def show_decision(self, value: dict[str, Any]) -> None:
        """Draw a steering decision on the map: the viewer where they said they are (by coordinates,
        else their region's middle; unknown: no marker) and an arrow to the edge that won."""
        if value.get("type", "decision") != "decision" or not value.get("chosen"):
            return
        latlon = value.get("client_latlon")
        where = (float(latlon[0]), float(latlon[1])) if isinstance(latlon, list) and len(latlon) == 2 else \
            self.diagram.region_latlon(str(value.get("client_region") or ""))
        self.diagram.set_steering(where, str(value["chosen"]))

    def status_text(self) -> str:
        down = [e["name"] for e in self.edges if not e.get("healthy")]
        return f"{len(self.edges)} edges" + (f", down: {', '.join(down)}" if down else "")
