"""Library view: every published title as a poster card, search as you type, facets, edit and delete.

With no query and no facet chosen the grid is the catalog itself (`GET /api/titles`, authoritative at
once); typing or picking a facet asks `GET /api/search` (debounced; stale answers are dropped).
Catalog changes arrive as `videos` events and reload the grid.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.client import ApiClient
from studio.views.library_edit import TitleEditor
from studio.views.library_grid import CARD, TitleCard, TitleGridModel, TitleRole
from studio.views.library_ladder import LadderPanel, detail_column, grid_column
from studio.views.library_said import SaidHits
from studio.views.library_tracks import TracksPanel
from studio.widgets.toast import Toast

SEARCH_DEBOUNCE_MS = 250
RELOAD_DEBOUNCE_MS = 300
FACETS = (("tags", "Any tag"), ("resolution", "Any resolution"), ("duration_bucket", "Any length"),
          ("upload_month", "Any month"))
SORTS = (("newest", "Newest"), ("relevance", "Best match"), ("views", "Most viewed"))
CATALOG_EVENTS = ("published", "deleted", "restored", "metadata_edited")
SAMPLE_ENDPOINT = "/api/samples"
# The server answers once it has made the clip (a 20 s encode): seconds when idle, a minute or more
# on a machine busy encoding, where the usual 30 s request timeout would report a false failure.
SAMPLE_TIMEOUT_MS = 300_000
SAMPLE_LABEL, SAMPLE_BUSY_LABEL = "Try a sample clip", "Making the sample clip…"


def debouncer(parent: QWidget, ms: int, slot: Any) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(ms)
    timer.timeout.connect(slot)
    return timer


class LibraryView(QWidget):
    """Search bar + facet filters over a poster grid, with the selected title's editor beside it."""

    play_requested = Signal(dict)
    sample_started = Signal(dict)  # the job the server made for the sample clip

    def __init__(self, client: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.catalog: dict[str, dict[str, Any]] = {}
        self.loaded = False
        self.suggestion = ""
        self._search_seq = 0
        self.model = TitleGridModel(client)
        self._build()
        self.toast = Toast(self)
        self.tracks.toast = self.toast
        self._search_timer = debouncer(self, SEARCH_DEBOUNCE_MS, self.apply_filter)
        self._reload_timer = debouncer(self, RELOAD_DEBOUNCE_MS, self.reload)
        self.client.events.connect(self.on_events)
        self.model.dataChanged.connect(self._poster_maybe)
        self.reload()

    # --- layout -----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.grid = QListView(self)
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setGridSize(CARD)
        self.grid.setSpacing(6)
        self.grid.setModel(self.model)
        self.grid.setItemDelegate(TitleCard(self.model))
        self.grid.selectionModel().currentChanged.connect(self._selected)
        self.grid.doubleClicked.connect(lambda index: self.play_requested.emit(index.data(TitleRole)))
        self.editor = TitleEditor(self)
        self.editor.save.connect(self.save)
        self.editor.delete.connect(self.confirm_delete)
        self.editor.play.connect(self.play_requested)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("librarySplitter")
        self.ladder = LadderPanel(self.client, self)
        self.splitter.addWidget(grid_column(self, self.grid, self.ladder))
        self.tracks = TracksPanel(self.client, self)
        column = detail_column(self, self.editor)
        column.insertWidget(1, self.tracks)  # editor, then tracks
        self.splitter.addWidget(column)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([760, 360])
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.splitter)
        self.stack.addWidget(self._empty_page())
        layout = QVBoxLayout(self)
        layout.addLayout(self._search_bar())
        layout.addWidget(self.suggestion_label)
        layout.addWidget(self.stack, 1)
        self.said = SaidHits(self.client, self)  # search hits inside subtitles, under the grid
        self.said.play_at.connect(self.play_at)
        layout.addWidget(self.said)

    def _search_bar(self) -> QHBoxLayout:
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search titles, descriptions, tags…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.sort = QComboBox(self)
        for value, label in SORTS:
            self.sort.addItem(label, value)
        self.sort.currentIndexChanged.connect(lambda _i: self.apply_filter())
        self.facets: dict[str, QComboBox] = {}
        bar = QHBoxLayout()
        bar.addWidget(self.search, 2)
        for name, any_label in FACETS:
            combo = self.facets[name] = QComboBox(self)
            combo.addItem(any_label, None)
            combo.currentIndexChanged.connect(lambda _i: self.apply_filter())
            bar.addWidget(combo)
        bar.addWidget(self.sort)
        self.suggestion_label = QLabel(self)
        self.suggestion_label.linkActivated.connect(self.search.setText)
        self.suggestion_label.hide()
        return bar

    def _empty_page(self) -> QWidget:
        page = QWidget(self)
        self.empty_text = QLabel("<h2>Your library is empty</h2>Drop videos anywhere on this window, "
                                 "or try everything at once with a sample clip.", page)
        self.empty_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_text.setWordWrap(True)
        self.sample_button = QPushButton(SAMPLE_LABEL, page)
        self.sample_button.clicked.connect(self.request_sample)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.empty_text)
        layout.addWidget(self.sample_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        return page

    # --- loading ----------------------------------------------------------------------------------

    def reload(self) -> None:
        """The catalog and view counts again, then the grid (catalog events call this, debounced)."""
        self.client.get("/api/titles", on_ok=self._catalog)
        self.client.get("/api/analytics/views", on_ok=self._views, on_error=lambda _e: None)

    def _catalog(self, body: dict[str, Any]) -> None:
        self.catalog = {t["video_id"]: t for t in body.get("titles", [])}
        self.loaded = True
        self.apply_filter()

    def play_at(self, video_id: str, start_s: float) -> None:
        """Play a title from a moment found in its subtitles (the Player reads `play_from`)."""
        title = self.catalog.get(video_id)
        if title is not None:
            self.play_requested.emit({**title, "play_from": start_s})

    def _views(self, body: dict[str, Any]) -> None:
        self.model.set_views({r["video_id"]: int(r["views"]) for r in body.get("rows", [])})

    def filters(self) -> dict[str, list[str]]:
        return {name: [combo.currentData()] for name, combo in self.facets.items() if combo.currentData()}

    def apply_filter(self) -> None:
        """Browse the catalog, or search when there is a query or a facet; facet counts come with it."""
        self._search_seq += 1
        seq, query, facets = self._search_seq, self.search.text(), self.filters()
        # the text goes as typed: a trailing space tells the server the last word is complete
        params = {"q": query, "sort": self.sort.currentData(), "limit": 200, **facets}
        self.client.get("/api/search", params, on_ok=lambda body: self._searched(seq, body),
                        on_error=lambda err: self._search_failed(seq, err))
        self.said.search(query)
        if not query.strip() and not facets:
            self._show(self._browse_order())

    def _browse_order(self) -> list[dict[str, Any]]:
        titles = list(self.catalog.values())
        if self.sort.currentData() == "views":
            return sorted(titles, key=lambda t: -self.model.views.get(t["video_id"], 0))
        return sorted(titles, key=lambda t: -t.get("created_at", 0))

    def _searched(self, seq: int, body: dict[str, Any]) -> None:
        if seq != self._search_seq:
            return  # a newer keystroke's answer is on its way
        self._set_facets(body.get("facets", {}))
        if self.search.text().strip() or self.filters():
            self._show([self.catalog.get(h["video_id"], h) for h in body.get("hits", [])])
            self._suggest(body.get("suggestion") or "")

    def _search_failed(self, seq: int, err: str) -> None:
        if seq == self._search_seq:
            self.client.error.emit(f"Search: {err}")

    def _suggest(self, suggestion: str) -> None:
        self.suggestion = suggestion
        self.suggestion_label.setText(f"No titles match. Did you mean <a href='{html.escape(suggestion)}'>"
                                      f"{html.escape(suggestion)}</a>?" if suggestion else "")
        self.suggestion_label.setVisible(bool(suggestion))

    def _set_facets(self, facets: dict[str, list[list[Any]]]) -> None:
        for name, combo in self.facets.items():
            chosen = combo.currentData()
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for value, count in facets.get(name, []):
                combo.addItem(f"{value} ({count})", value)
            if chosen is not None and combo.findData(chosen) < 0:
                combo.addItem(f"{chosen} (0)", chosen)
            combo.setCurrentIndex(max(combo.findData(chosen), 0))
            combo.blockSignals(False)

    def _show(self, titles: list[dict[str, Any]]) -> None:
        current = self.selected_title()
        self.model.set_titles(titles)
        if not self.search.text().strip() or titles:
            self._suggest("")
        browsing = not self.search.text().strip() and not self.filters()
        self.stack.setCurrentIndex(1 if browsing and self.loaded and not self.catalog else 0)
        row = self.model.row_of(current["video_id"]) if current else -1
        self.grid.setCurrentIndex(self.model.index(max(row, 0)) if titles else QModelIndex())
        if not titles:
            self.editor.show_title(None)
            self.tracks.show_title(None)

    def on_events(self, batch: list[dict[str, Any]]) -> None:
        if any(e.get("topic") == "videos" and e["value"].get("type") in CATALOG_EVENTS for e in batch):
            self._reload_timer.start()

    # --- selection and editing --------------------------------------------------------------------

    def selected_title(self) -> dict[str, Any] | None:
        index = self.grid.currentIndex()
        return index.data(TitleRole) if index.isValid() else None

    def _selected(self, index: QModelIndex, _previous: QModelIndex) -> None:
        title = index.data(TitleRole) if index.isValid() else None
        self.editor.show_title(title, self.model.posters.pixmaps.get(title["video_id"]) if title else None)
        self.ladder.show_title(title)
        self.tracks.show_title(title)

    def _poster_maybe(self, top: QModelIndex, _bottom: QModelIndex) -> None:
        title = self.editor.current
        if title and top == self.grid.currentIndex():
            self.editor.set_poster(self.model.posters.pixmaps.get(title["video_id"]))

    def save(self, video_id: str, changes: dict[str, Any]) -> None:
        self.client.patch(f"/api/titles/{video_id}", changes, on_ok=self._saved, on_error=self._failed)

    def _saved(self, title: dict[str, Any]) -> None:
        self.catalog[title["video_id"]] = title
        self.model.update_title(title)
        self.toast.show_message(f"Saved “{html.escape(title['title'])}”.")

    def confirm_delete(self, title: dict[str, Any]) -> None:
        answer = QMessageBox.question(self, "Delete title",
                                      f"Delete “{title.get('title')}”? Its files go to the trash; "
                                      "you can undo this right after.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(title)

    def delete(self, title: dict[str, Any]) -> None:
        video_id = title["video_id"]
        self.client.delete(f"/api/titles/{video_id}", on_ok=lambda _b: self._deleted(title),
                           on_error=self._failed)

    def _deleted(self, title: dict[str, Any]) -> None:
        self.catalog.pop(title["video_id"], None)
        self.apply_filter()
        self.toast.show_message(f"Deleted “{html.escape(title.get('title', ''))}”.", "Undo",
                                lambda: self.restore(title["video_id"]), ms=10_000)

    def restore(self, video_id: str) -> None:
        self.client.post(f"/api/titles/{video_id}/restore", on_ok=self._restored, on_error=self._failed)

    def _restored(self, title: dict[str, Any]) -> None:
        self.catalog[title["video_id"]] = title
        self.model.posters.forget(title["video_id"])
        self.apply_filter()
        self.toast.show_message(f"Restored “{html.escape(title['title'])}”.")

    def _failed(self, err: str) -> None:
        self.toast.show_message(html.escape(err))
        self.client.error.emit(err)

    # --- first start ------------------------------------------------------------------------------

    def request_sample(self) -> None:
        """Ask the server for its sample clip as a job (the GUI never runs ffmpeg itself)."""
        self.sample_button.setEnabled(False)
        self.sample_button.setText(SAMPLE_BUSY_LABEL)
        self.client.post(SAMPLE_ENDPOINT, {}, on_ok=self._sample_job, on_error=self._sample_failed,
                         timeout_ms=SAMPLE_TIMEOUT_MS)

    def _sample_ready(self) -> None:
        self.sample_button.setEnabled(True)
        self.sample_button.setText(SAMPLE_LABEL)

    def _sample_job(self, job: dict[str, Any]) -> None:
        self._sample_ready()
        self.sample_started.emit(job)

    def _sample_failed(self, err: str) -> None:
        self._sample_ready()
        self.toast.show_message(f"This server cannot make a sample clip: {html.escape(err)}")

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def status_text(self) -> str:
        return f"{len(self.catalog)} title{'s' if len(self.catalog) != 1 else ''} in the library"

    def _play_selected(self) -> None:
        if (title := self.selected_title()) is not None:
            self.play_requested.emit(title)

    def _delete_selected(self) -> None:
        if (title := self.selected_title()) is not None:
            self.confirm_delete(title)

    def shortcut_actions(self) -> list[QAction]:
        play = QAction("Play the selected title", self)
        play.setShortcut(QKeySequence("Ctrl+P"))
        play.triggered.connect(self._play_selected)
        delete = QAction("Delete the selected title", self)
        delete.setShortcut(QKeySequence.StandardKey.Delete)
        delete.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        delete.triggered.connect(self._delete_selected)
        self.grid.addAction(delete)
        return [play]
