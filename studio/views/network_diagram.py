"""The CDN drawn on a world map: each edge a dot where it stands, a circle round each region, a card
per edge with its health, cache fill, live hit ratio and throughput, the origin that fills them, and
the last steering decision as an arrow from the viewer to the chosen edge. Custom-painted (a few
dozen shapes); a click on a dot or card selects an edge."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPolygonF,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.views.world_outline import LAND

CARD_W, CARD_H, GAP = 168.0, 62.0, 10.0
ORIGIN_H, DOT_R, REGION_R = 32.0, 6.0, 16.0
WEST, EAST, NORTH, SOUTH = -170.0, 190.0, 78.0, -50.0   # the map's frame: every inhabited continent
HEALTHY, DOWN = QColor("#2e9d4f"), QColor("#d13438")


def mbit(bps: float) -> str:
    return f"{bps / 1e6:.2f} Mbit/s" if bps < 10e6 else f"{bps / 1e6:.0f} Mbit/s"


def fill_fraction(edge: dict[str, Any]) -> float:
    capacity = float(edge.get("capacity_bytes") or 0)
    return min(1.0, float(edge.get("cached_bytes") or 0) / capacity) if capacity else 0.0


def card_lines(edge: dict[str, Any]) -> list[str]:
    """The text of one edge card (also its tooltip), from one item of `GET /api/edges`."""
    link = edge.get("bandwidth_mbps")
    return [f"{'healthy' if edge.get('healthy') else 'DOWN'} · load {float(edge.get('load') or 0):.2f}",
            f"cache {fill_fraction(edge) * 100:.1f} % full · hits {float(edge.get('hit_ratio') or 0):.0%}",
            f"{mbit(float(edge.get('throughput_bps') or 0))} now · link "
            + (f"{link:g} Mbit/s" if link else "uncapped")]


@dataclass
class MapLayout:
    """Where everything is drawn for one widget size: each edge's dot (at its latitude/longitude),
    its card beside its region, each region's circle, the origin box and the map's own rectangle."""

    frame: QRectF = field(default_factory=QRectF)
    dots: dict[str, QPointF] = field(default_factory=dict)
    cards: dict[str, QRectF] = field(default_factory=dict)
    regions: dict[str, QRectF] = field(default_factory=dict)
    origin: QRectF = field(default_factory=QRectF)

    def project(self, lat: float, lon: float) -> QPointF:
        """Equirectangular: longitude to x, latitude to y, over the map's frame."""
        f = self.frame
        lon = lon + 360 if lon < WEST else lon
        return QPointF(f.left() + (lon - WEST) / (EAST - WEST) * f.width(),
                       f.top() + (NORTH - lat) / (NORTH - SOUTH) * f.height())


def map_frame(width: float, height: float) -> QRectF:
    """The largest rectangle of the map's aspect that fits, centred."""
    span_x, span_y = EAST - WEST, NORTH - SOUTH
    scale = max(1e-6, min((width - 2 * GAP) / span_x, (height - 2 * GAP) / span_y))
    w, h = span_x * scale, span_y * scale
    return QRectF((width - w) / 2, (height - h) / 2, w, h)


def card_summary(edge: dict[str, Any]) -> list[str]:
    """The two short lines of an edge's card on the map: live hit ratio and throughput, cache and link."""
    link = edge.get("bandwidth_mbps")
    return [f"hits {float(edge.get('hit_ratio') or 0):.0%} · {mbit(float(edge.get('throughput_bps') or 0))}",
            f"cache {fill_fraction(edge) * 100:.0f} % · link " + (f"{link:g} Mbit/s" if link else "uncapped")]


def layout(edges: list[dict[str, Any]], width: float, height: float) -> MapLayout:
    """Dots by location; per region a circle round its dots and a stack of cards beside it, on the
    first side (outward from the map's middle first) where the stack covers no dot, circle or card."""
    placed = MapLayout(map_frame(width, height))
    members: dict[str, list[dict[str, Any]]] = {}
    for edge in edges:
        members.setdefault(str(edge.get("region", "?")), []).append(edge)
        placed.dots[edge["name"]] = placed.project(float(edge.get("lat") or 0), float(edge.get("lon") or 0))
    for region, group in members.items():
        centre = _centre(placed, group)
        radius = REGION_R + max(_distance(placed.dots[e["name"]], centre) for e in group)
        placed.regions[region] = QRectF(centre.x() - radius, centre.y() - radius, 2 * radius, 2 * radius)
    bounds = QRectF(GAP, GAP, width - 2 * GAP, height - 3 * GAP - ORIGIN_H)
    for region, group in sorted(members.items(), key=lambda item: placed.regions[item[0]].center().x()):
        stack = _best_stack(placed, placed.regions[region], len(group), bounds)
        for edge, card in zip(group, stack, strict=True):
            placed.cards[edge["name"]] = card
    placed.origin = QRectF(width / 2 - CARD_W / 2, height - GAP - ORIGIN_H, CARD_W, ORIGIN_H)
    return placed


def _best_stack(placed: MapLayout, circle: QRectF, count: int, bounds: QRectF) -> list[QRectF]:
    """The stack of `count` cards beside `circle` that covers the least of what is already drawn."""
    tall, wide = count * (CARD_H + GAP) - GAP, count * (CARD_W + GAP) - GAP
    centre, outward = circle.center(), -1 if circle.center().x() < placed.frame.center().x() else 1
    beside = [QPointF(circle.left() - GAP - CARD_W, centre.y() - tall / 2),
              QPointF(circle.right() + GAP, centre.y() - tall / 2)]
    options = [(p, False) for p in (beside if outward < 0 else beside[::-1])]
    options += [(QPointF(centre.x() - wide / 2, circle.top() - GAP - 18 - CARD_H), True),
                (QPointF(centre.x() - wide / 2, circle.bottom() + GAP), True)]
    stacks = [_stack(corner, count, across, bounds) for corner, across in options]
    return min(stacks, key=lambda stack: _covered(placed, stack))


def region_label(circle: QRectF) -> QRectF:
    """Where a region's name is written: centred above its circle."""
    return QRectF(circle.center().x() - 55, circle.top() - 20, 110, 18)


def _stack(corner: QPointF, count: int, across: bool, bounds: QRectF) -> list[QRectF]:
    """`count` cards from `corner`, down a column or along a row, moved inside `bounds`."""
    w, h = (count * (CARD_W + GAP) - GAP, CARD_H) if across else (CARD_W, count * (CARD_H + GAP) - GAP)
    x = min(max(bounds.left(), corner.x()), bounds.right() - w)
    y = min(max(bounds.top(), corner.y()), bounds.bottom() - h)
    return [QRectF(x + i * (CARD_W + GAP), y, CARD_W, CARD_H) if across else
            QRectF(x, y + i * (CARD_H + GAP), CARD_W, CARD_H) for i in range(count)]


def _covered(placed: MapLayout, stack: list[QRectF]) -> float:
    """How much of the drawn map a stack would hide: cards and region circles by area, dots heavily."""
    score = 0.0
    for card in stack:
        labels = [region_label(circle) for circle in placed.regions.values()]
        for other in [*placed.cards.values(), *placed.regions.values(), *labels]:
            overlap = card.intersected(other.adjusted(-GAP / 2, -GAP / 2, GAP / 2, GAP / 2))
            score += overlap.width() * overlap.height()
        margin = card.adjusted(-DOT_R, -DOT_R, DOT_R, DOT_R)
        score += sum(1e6 for dot in placed.dots.values() if margin.contains(dot))
    return score


def _centre(placed: MapLayout, group: list[dict[str, Any]]) -> QPointF:
    points = [placed.dots[e["name"]] for e in group]
    return QPointF(sum(p.x() for p in points) / len(points), sum(p.y() for p in points) / len(points))


def _distance(a: QPointF, b: QPointF) -> float:
    return math.hypot(a.x() - b.x(), a.y() - b.y())


class NetworkDiagram(QWidget):
    """The edges on a world map; `edge_clicked(name)` when a dot or card is clicked. The last steering
    decision is drawn as an arrow from the viewer's location to the chosen edge."""

    edge_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edges: list[dict[str, Any]] = []
        self.selected = ""
        self.placed = MapLayout()
        self.viewer: tuple[float, float] | None = None     # (lat, lon) of the last steered viewer
        self.steered_to = ""                               # the edge that viewer was sent to
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    @property
    def cards(self) -> dict[str, QRectF]:
        return self.placed.cards

    @property
    def dots(self) -> dict[str, QPointF]:
        return self.placed.dots

    @property
    def regions(self) -> dict[str, QRectF]:
        return self.placed.regions

    def set_edges(self, edges: list[dict[str, Any]]) -> None:
        if edges == self.edges:
            return  # nothing changed: no repaint
        self.edges = edges
        self._relayout()

    def set_steering(self, viewer: tuple[float, float] | None, chosen: str) -> None:
        """Show a steering decision: where the viewer is (None: unknown) and which edge won."""
        self.viewer, self.steered_to = viewer, chosen
        self.update()

    def region_latlon(self, region: str) -> tuple[float, float] | None:
        """The middle of a region's edges (where a viewer known only by region is drawn)."""
        group = [e for e in self.edges if e.get("region") == region]
        if not group:
            return None
        return (sum(float(e.get("lat") or 0) for e in group) / len(group),
                sum(float(e.get("lon") or 0) for e in group) / len(group))

    def viewer_point(self) -> QPointF | None:
        return self.placed.project(*self.viewer) if self.viewer is not None else None

    def select(self, name: str) -> None:
        self.selected = name
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(900, 460)

    def minimumSizeHint(self) -> QSize:
        return QSize(560, 300)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._relayout()
        super().resizeEvent(event)

    def _relayout(self) -> None:
        self.placed = layout(self.edges, self.width(), self.height())
        self.update()

    def edge_at(self, point: QPointF) -> str:
        for name, rect in self.cards.items():
            if rect.contains(point):
                return name
        nearest = min(((_distance(dot, point), name) for name, dot in self.dots.items()),
                      default=(math.inf, ""))
        return nearest[1] if nearest[0] <= DOT_R + 4 else ""

    def mousePressEvent(self, event: QMouseEvent) -> None:
        name = self.edge_at(event.position())
        if name:
            self.select(name)
            self.edge_clicked.emit(name)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        name = self.edge_at(event.position())
        edge = next((e for e in self.edges if e["name"] == name), None)
        self.setToolTip("\n".join([name, *card_lines(edge)]) if edge else "")
        self.setCursor(Qt.CursorShape.PointingHandCursor if name else Qt.CursorShape.ArrowCursor)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_map(painter)
        self._paint_origin(painter)
        for region, circle in self.regions.items():
            self._paint_region(painter, region, circle)
        self._paint_steering(painter)
        for edge in self.edges:
            self._paint_edge(painter, edge)
        painter.end()

    def _paint_map(self, painter: QPainter) -> None:
        palette, frame = self.palette(), self.placed.frame
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRect(frame)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Midlight), 0.8))
        for lon in range(-150, 181, 30):
            x = self.placed.project(0, lon).x()
            painter.drawLine(QPointF(x, frame.top()), QPointF(x, frame.bottom()))
        for lat in range(-30, 61, 30):
            y = self.placed.project(lat, 0).y()
            painter.drawLine(QPointF(frame.left(), y), QPointF(frame.right(), y))
        land = palette.color(QPalette.ColorRole.Mid)
        land.setAlpha(70)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(land)
        for outline in LAND:
            painter.drawPolygon(QPolygonF([self.placed.project(lat, lon) for lon, lat in outline]))

    def _paint_origin(self, painter: QPainter) -> None:
        """The origin box and a line to every edge it fills (dashed while the edge is down)."""
        palette, origin = self.palette(), self.placed.origin
        for edge in self.edges:
            healthy = bool(edge.get("healthy"))
            colour = QColor(HEALTHY if healthy else DOWN)
            colour.setAlpha(90)
            painter.setPen(QPen(colour, 1.0, Qt.PenStyle.SolidLine if healthy else Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(origin.center().x(), origin.top()), self.dots[edge["name"]])
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
        painter.drawRoundedRect(origin, 8, 8)
        painter.drawText(origin, Qt.AlignmentFlag.AlignCenter, "Origin (this server)")

    def _paint_region(self, painter: QPainter, region: str, circle: QRectF) -> None:
        palette = self.palette()
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Dark), 1, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(circle)
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(region_label(circle), Qt.AlignmentFlag.AlignCenter, region)
        painter.setFont(self.font())

    def _paint_steering(self, painter: QPainter) -> None:
        """The viewer as a marker and an arrow to the edge steering chose for them."""
        start, end = self.viewer_point(), self.dots.get(self.steered_to)
        if start is None:
            return
        colour = self.palette().color(QPalette.ColorRole.Highlight)
        painter.setPen(QPen(colour, 2))
        painter.setBrush(colour)
        painter.drawEllipse(start, 5, 5)
        label = QRectF(start.x() - 40, start.y() + 6, 80, 16)
        painter.drawText(label, Qt.AlignmentFlag.AlignCenter, "viewer")
        if end is None or _distance(start, end) < DOT_R * 2:
            return
        painter.drawLine(start, end)
        angle = math.atan2(end.y() - start.y(), end.x() - start.x())
        tip = QPointF(end.x() - DOT_R * math.cos(angle), end.y() - DOT_R * math.sin(angle))
        wings = [QPointF(tip.x() - 10 * math.cos(angle + s), tip.y() - 10 * math.sin(angle + s))
                 for s in (0.45, -0.45)]
        painter.drawPolygon(QPolygonF([tip, *wings]))

    def _paint_edge(self, painter: QPainter, edge: dict[str, Any]) -> None:
        """Dot at the edge's place, a leader line to its card."""
        name, healthy = edge["name"], bool(edge.get("healthy"))
        dot, card = self.dots[name], self.cards[name]
        painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Dark), 1))
        anchor = QPointF(card.left() if card.left() > dot.x() else card.right(), card.center().y())
        painter.drawLine(dot, anchor)
        painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 3) if name == self.selected
                       else Qt.PenStyle.NoPen)
        painter.setBrush(HEALTHY if healthy else DOWN)
        painter.drawEllipse(dot, DOT_R, DOT_R)
        self._paint_card(painter, edge, card)

    def _paint_card(self, painter: QPainter, edge: dict[str, Any], card: QRectF) -> None:
        """Name, live hit ratio and throughput, cache fill and link; the full text is the tooltip."""
        palette, healthy = self.palette(), bool(edge.get("healthy"))
        selected = edge["name"] == self.selected
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight) if selected else
                            (HEALTHY if healthy else DOWN), 3 if selected else 1.5))
        painter.setBrush(palette.color(QPalette.ColorRole.Window) if healthy else QColor(250, 225, 225))
        painter.drawRoundedRect(card, 6, 6)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        name = edge["name"] + ("  ◀ steered" if edge["name"] == self.steered_to else "") + \
            ("" if healthy else "  DOWN")
        painter.drawText(card.adjusted(8, 3, -4, 0), Qt.AlignmentFlag.AlignLeft, name)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.85))
        painter.setFont(small)
        for i, line in enumerate(card_summary(edge)):
            painter.drawText(card.adjusted(8, 21 + i * 14, -4, 0), Qt.AlignmentFlag.AlignLeft, line)
        painter.setFont(self.font())
        self._paint_fill(painter, card, fill_fraction(edge))

    def _paint_fill(self, painter: QPainter, card: QRectF, fraction: float) -> None:
        bar = QRectF(card.left() + 8, card.bottom() - 8, card.width() - 16, 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.palette().color(QPalette.ColorRole.Midlight))
        painter.drawRoundedRect(bar, 3, 3)
        painter.setBrush(self.palette().color(QPalette.ColorRole.Highlight))
        filled = QRectF(bar.left(), bar.top(), max(2.0, bar.width() * fraction), bar.height())
        painter.drawRoundedRect(filled, 3, 3)
