"""The poster grid: a list model of titles, posters fetched once each, and a delegate that draws a card."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from studio.client import ApiClient
from studio.widgets import fmt

POSTER = QSize(224, 126)
CARD = QSize(POSTER.width() + 16, POSTER.height() + 62)
TitleRole = Qt.ItemDataRole.UserRole + 1
AnyIndex = QModelIndex | QPersistentModelIndex


def card_caption(title: dict[str, Any], views: int) -> str:
    """`0:04 · 1080p · 3 views` — the numbers a creator scans the grid for."""
    rung = fmt.top_rung(title.get("renditions") or []) if title.get("renditions") else \
        title.get("resolution", "—")
    return f"{fmt.duration(title.get('duration'))} · {rung} · {views} view{'s' if views != 1 else ''}"


class Posters:
    """Poster pixmaps by video id; each is fetched once, `loaded(video_id)` says when one arrives."""

    def __init__(self, client: ApiClient, loaded: Any) -> None:
        self.client = client
        self.loaded = loaded
        self.pixmaps: dict[str, QPixmap] = {}
        self._asked: set[str] = set()

    def get(self, video_id: str) -> QPixmap | None:
        if video_id not in self._asked:
            self._asked.add(video_id)
            self.client.fetch(f"/origin/videos/{video_id}/thumbs/poster.jpg",
                              on_ok=lambda data: self._arrived(video_id, data), on_error=lambda _e: None)
        return self.pixmaps.get(video_id)

    def _arrived(self, video_id: str, data: bytes) -> None:
        pixmap = QPixmap()
        if pixmap.loadFromData(data):
            self.pixmaps[video_id] = pixmap.scaled(POSTER, Qt.AspectRatioMode.KeepAspectRatio,
                                                   Qt.TransformationMode.SmoothTransformation)
            self.loaded(video_id)

    def forget(self, video_id: str) -> None:
        self._asked.discard(video_id)
        self.pixmaps.pop(video_id, None)


class TitleGridModel(QAbstractListModel):
    """The titles on screen, in the order search or sort gave them."""

    changed = Signal()

    def __init__(self, client: ApiClient) -> None:
        super().__init__()
        self.titles: list[dict[str, Any]] = []
        self.views: dict[str, int] = {}
        self.posters = Posters(client, self._poster_loaded)

    def set_titles(self, titles: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self.titles = list(titles)
        self.endResetModel()
        self.changed.emit()

    def set_views(self, views: dict[str, int]) -> None:
        self.views = views
        if self.titles:
            self.dataChanged.emit(self.index(0), self.index(len(self.titles) - 1))

    def update_title(self, title: dict[str, Any]) -> None:
        for row, old in enumerate(self.titles):
            if old["video_id"] == title["video_id"]:
                self.titles[row] = {**old, **title}
                self.dataChanged.emit(self.index(row), self.index(row))

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.titles)

    def data(self, index: AnyIndex, role: int = 0) -> Any:
        title = self.titles[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return title.get("title") or title["video_id"]
        if role == TitleRole:
            return title
        if role == Qt.ItemDataRole.ToolTipRole:
            return title.get("description") or title.get("original_name", "")
        if role == Qt.ItemDataRole.DecorationRole:
            return self.posters.get(title["video_id"])
        if role == Qt.ItemDataRole.SizeHintRole:
            return CARD
        return None

    def caption(self, title: dict[str, Any]) -> str:
        return card_caption(title, self.views.get(title["video_id"], 0))

    def row_of(self, video_id: str) -> int:
        return next((i for i, t in enumerate(self.titles) if t["video_id"] == video_id), -1)

    def _poster_loaded(self, video_id: str) -> None:
        row = self.row_of(video_id)
        if row >= 0:
            self.dataChanged.emit(self.index(row), self.index(row))


class TitleCard(QStyledItemDelegate):
    """Poster on top, the title in bold, then duration · top rung · views."""

    def __init__(self, model: TitleGridModel) -> None:
        super().__init__()
        self.model = model

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return CARD

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        rect: QRect = option.rect
        palette: QPalette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        role = QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.AlternateBase
        painter.setBrush(palette.color(role))
        painter.drawRoundedRect(rect.adjusted(3, 3, -3, -3), 8, 8)
        self._poster(painter, QRect(rect.x() + 8, rect.y() + 8, POSTER.width(), POSTER.height()),
                     index.data(Qt.ItemDataRole.DecorationRole), palette)
        text = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        self._text(painter, rect, index.data(TitleRole), text)
        painter.restore()

    def _poster(self, painter: QPainter, box: QRect, pixmap: QPixmap | None, palette: QPalette) -> None:
        painter.setBrush(QColor("#101114"))
        painter.drawRoundedRect(box, 6, 6)
        if pixmap is not None and not pixmap.isNull():
            x = box.x() + (box.width() - pixmap.width()) // 2
            y = box.y() + (box.height() - pixmap.height()) // 2
            painter.drawPixmap(x, y, pixmap)
        else:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "poster…")

    def _text(self, painter: QPainter, rect: QRect, title: dict[str, Any], colour: QColor) -> None:
        top = rect.y() + POSTER.height() + 14
        width = rect.width() - 16
        bold = QFont(painter.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(colour)
        name = painter.fontMetrics().elidedText(title.get("title") or title["video_id"],
                                                Qt.TextElideMode.ElideRight, width)
        painter.drawText(QRect(rect.x() + 8, top, width, 20), Qt.AlignmentFlag.AlignLeft, name)
        bold.setBold(False)
        painter.setFont(bold)
        painter.drawText(QRect(rect.x() + 8, top + 20, width, 20), Qt.AlignmentFlag.AlignLeft,
                         self.model.caption(title))
