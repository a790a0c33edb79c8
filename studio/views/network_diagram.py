"""The CDN drawn as a diagram: the origin on top, one box per region, a card per edge with its health,
cache fill, hit ratio and throughput. Custom-painted (a few dozen shapes); a click selects an edge."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

CARD_W, CARD_H, GAP, REGION_PAD, HEADER = 190.0, 92.0, 14.0, 12.0, 26.0
ORIGIN_H = 40.0
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


def layout(edges: list[dict[str, Any]]) -> tuple[dict[str, QRectF], dict[str, QRectF], QRectF]:
    """Region boxes side by side under the origin, their edges stacked inside: (regions, cards, origin)."""
    regions: dict[str, list[dict[str, Any]]] = {}
    for edge in edges:
        regions.setdefault(edge.get("region", "?"), []).append(edge)
    boxes: dict[str, QRectF] = {}
    cards: dict[str, QRectF] = {}
    top = GAP + ORIGIN_H + GAP * 3
    for i, (region, members) in enumerate(sorted(regions.items())):
        left = GAP + i * (CARD_W + 2 * REGION_PAD + GAP)
        height = HEADER + len(members) * (CARD_H + GAP) - GAP + REGION_PAD
        boxes[region] = QRectF(left, top, CARD_W + 2 * REGION_PAD, height)
        for j, edge in enumerate(members):
            cards[edge["name"]] = QRectF(left + REGION_PAD, top + HEADER + j * (CARD_H + GAP), CARD_W, CARD_H)
    right = max((b.right() for b in boxes.values()), default=CARD_W)
    origin = QRectF((right + GAP) / 2 - CARD_W / 2, GAP, CARD_W, ORIGIN_H)
    return boxes, cards, origin


class NetworkDiagram(QWidget):
    """Paints the edges it was last given; `edge_clicked(name)` when a card is clicked."""

    edge_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edges: list[dict[str, Any]] = []
        self.selected = ""
        self.regions: dict[str, QRectF] = {}
        self.cards: dict[str, QRectF] = {}
        self.origin = QRectF()
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_edges(self, edges: list[dict[str, Any]]) -> None:
        if edges == self.edges:
            return  # nothing changed: no repaint
        self.edges = edges
        self.regions, self.cards, self.origin = layout(edges)
        self.updateGeometry()
        self.update()

    def select(self, name: str) -> None:
        self.selected = name
        self.update()

    def sizeHint(self) -> QSize:
        right = max((b.right() for b in self.regions.values()), default=400.0)
        bottom = max((b.bottom() for b in self.regions.values()), default=300.0)
        return QSize(int(right + GAP), int(bottom + GAP))

    def edge_at(self, point: QPointF) -> str:
        return next((name for name, rect in self.cards.items() if rect.contains(point)), "")

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
        self._paint_origin(painter)
        for region, box in self.regions.items():
            self._paint_region(painter, region, box)
        for edge in self.edges:
            self._paint_card(painter, edge, self.cards[edge["name"]])
        painter.end()

    def _paint_origin(self, painter: QPainter) -> None:
        palette = self.palette()
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1.5))
        for edge in self.edges:
            card = self.cards[edge["name"]]
            painter.setPen(QPen(HEALTHY if edge.get("healthy") else DOWN, 1.2,
                                Qt.PenStyle.SolidLine if edge.get("healthy") else Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(self.origin.center().x(), self.origin.bottom()),
                             QPointF(card.center().x(), self.regions[edge.get("region", "?")].top()))
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
        painter.drawRoundedRect(self.origin, 8, 8)
        painter.drawText(self.origin, Qt.AlignmentFlag.AlignCenter, "Origin (this server)")

    def _paint_region(self, painter: QPainter, region: str, box: QRectF) -> None:
        palette = self.palette()
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1, Qt.PenStyle.DashLine))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(box, 10, 10)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(box.adjusted(REGION_PAD, 4, 0, 0), Qt.AlignmentFlag.AlignLeft, region)
        painter.setFont(self.font())

    def _paint_card(self, painter: QPainter, edge: dict[str, Any], card: QRectF) -> None:
        palette, healthy = self.palette(), bool(edge.get("healthy"))
        selected = edge["name"] == self.selected
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight) if selected else
                            (HEALTHY if healthy else DOWN), 3 if selected else 1.5))
        painter.setBrush(palette.color(QPalette.ColorRole.Window) if healthy else QColor(209, 52, 56, 40))
        painter.drawRoundedRect(card, 6, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(HEALTHY if healthy else DOWN)
        painter.drawEllipse(QPointF(card.left() + 12, card.top() + 13), 5, 5)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(card.adjusted(22, 4, -4, 0), Qt.AlignmentFlag.AlignLeft, edge["name"])
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.85))
        painter.setFont(small)
        for i, line in enumerate(card_lines(edge)):
            painter.drawText(card.adjusted(8, 24 + i * 15, -4, 0), Qt.AlignmentFlag.AlignLeft, line)
        painter.setFont(self.font())
        self._paint_fill(painter, card, fill_fraction(edge))

    def _paint_fill(self, painter: QPainter, card: QRectF, fraction: float) -> None:
        bar = QRectF(card.left() + 8, card.bottom() - 12, card.width() - 16, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.palette().color(QPalette.ColorRole.Midlight))
        painter.drawRoundedRect(bar, 3, 3)
        painter.setBrush(self.palette().color(QPalette.ColorRole.Highlight))
        filled = QRectF(bar.left(), bar.top(), max(2.0, bar.width() * fraction), bar.height())
        painter.drawRoundedRect(filled, 3, 3)
