"""The main window: a sidebar of views, a status bar, shortcuts, and drops of files anywhere on it.

Views are independent widgets built on the one ApiClient; the window only wires intent between them
(Library's Play opens the Player, a drop goes to Upload) and remembers its layout in QSettings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QSettings, QSize, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QStyle,
    QSystemTrayIcon,
    QWidget,
)

from studio.client import ApiClient
from studio.views.analytics import AnalyticsView
from studio.views.lab import LabView
from studio.views.library import LibraryView
from studio.views.network import NetworkView
from studio.views.player import PlayerView
from studio.views.upload import UploadView
from studio.widgets.toast import Toast

VIEWS = (("upload", "Upload", UploadView), ("library", "Library", LibraryView),
         ("player", "Player", PlayerView), ("analytics", "Analytics", AnalyticsView),
         ("network", "Network", NetworkView), ("lab", "Lab", LabView))
STATUS_MS = 500
SIDEBAR_STYLE = ("QListWidget#sidebar { border: none; border-right: 1px solid palette(mid); "
                 "font-size: 11pt; outline: 0; } QListWidget#sidebar::item { padding: 9px 8px; }")
ERROR_SHOW_MS = 10_000


def local_files(event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> list[Path]:
    """The local files and folders a drag carries (web URLs are not files we can ingest)."""
    mime = event.mimeData()
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []


class MainWindow(QMainWindow):
    """Sidebar + stacked views + status bar; `play(title)` and `show_view(name)` are its intents."""

    def __init__(self, client: ApiClient, settings: QSettings | None = None) -> None:
        super().__init__()
        self.client = client
        self.settings = settings or QSettings()
        self.setWindowTitle(f"MiniFlix Studio — {client.base_url}")
        self.setAcceptDrops(True)
        self.views: dict[str, QWidget] = {}
        self._build()
        self._status_bar()
        self._shortcuts()
        self.toast = Toast(self)
        self.tray = self._tray()
        self._wire()
        self._restore()

    def _build(self) -> None:
        self.sidebar = QListWidget(self)
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(150)
        self.sidebar.setIconSize(QSize(20, 20))
        self.sidebar.setStyleSheet(SIDEBAR_STYLE)
        self.stack = QStackedWidget(self)
        icons = (QStyle.StandardPixmap.SP_ArrowUp, QStyle.StandardPixmap.SP_DirIcon,
                 QStyle.StandardPixmap.SP_MediaPlay, QStyle.StandardPixmap.SP_FileDialogDetailedView,
                 QStyle.StandardPixmap.SP_DriveNetIcon, QStyle.StandardPixmap.SP_FileDialogContentsView)
        for (name, label, cls), icon in zip(VIEWS, icons, strict=True):
            view = cls(self.client, self)
            self.views[name] = view
            self.stack.addWidget(view)
            self.sidebar.addItem(QListWidgetItem(self.style().standardIcon(icon), label))
        self.upload = cast(UploadView, self.views["upload"])
        self.library = cast(LibraryView, self.views["library"])
        self.player = cast(PlayerView, self.views["player"])
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        body = QWidget(self)
        layout = QHBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(body)

    def _status_bar(self) -> None:
        self.server_label = QLabel(f"Server {self.client.base_url}", self)
        self.jobs_label = QLabel(self)
        self.view_label = QLabel(self)
        self.link_label = QLabel("connecting…", self)
        bar = self.statusBar()
        for label in (self.view_label, self.jobs_label, self.link_label, self.server_label):
            bar.addPermanentWidget(label)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_timer.start()

    def _shortcuts(self) -> None:
        for i, (name, label, _cls) in enumerate(VIEWS):
            self._action(f"Show {label}", f"Ctrl+{i + 1}", lambda _checked=False, n=name: self.show_view(n))
        self._action("Add videos…", QKeySequence.StandardKey.Open, self.upload.choose_files)
        self._action("Search the library", "Ctrl+F", self.focus_search)
        self._action("Keyboard shortcuts", QKeySequence.StandardKey.HelpContents, self.show_shortcuts)
        self._action("Quit", QKeySequence.StandardKey.Quit, self.close)
        for view in self.views.values():  # a view's own shortcuts work while it is the visible one
            if not view.actions():
                view.addActions(getattr(view, "shortcut_actions", list)())

    def shortcut_list(self) -> list[tuple[str, str]]:
        """(keys, what) for every shortcut of the window and its views."""
        actions = self.actions() + [a for v in self.views.values() for a in v.actions()]
        return [(a.shortcut().toString(QKeySequence.SequenceFormat.NativeText), a.text())
                for a in actions if not a.shortcut().isEmpty()]

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>{text}</td></tr>" for k, text in self.shortcut_list())
        QMessageBox.information(self, "Keyboard shortcuts", f"<table cellpadding=3>{rows}</table>")

    def _action(self, text: str, key: Any, slot: Any) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = QSystemTrayIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay), self)
        tray.setToolTip("MiniFlix Studio")
        tray.show()
        return tray

    def _wire(self) -> None:
        self.upload.notify.connect(self.notify)
        self.library.play_requested.connect(self.play)
        self.player.fullscreen_changed.connect(self._immersive)
        self.library.sample_started.connect(self._follow_job)
        self.client.error.connect(self.show_error)
        self.client.connection_changed.connect(self._connection)

    # --- intents ----------------------------------------------------------------------------------

    def _immersive(self, full: bool) -> None:
        """Fullscreen playback shows only the video and its controls."""
        self.sidebar.setVisible(not full)
        self.statusBar().setVisible(not full)

    def show_view(self, name: str) -> None:
        self.sidebar.setCurrentRow([n for n, _l, _c in VIEWS].index(name))

    def current_view(self) -> str:
        return VIEWS[max(self.stack.currentIndex(), 0)][0]

    def play(self, title: dict[str, Any]) -> None:
        """Show the Player and start `title` (an item of GET /api/titles)."""
        self.show_view("player")
        self.player.open_title(title)

    def add_paths(self, paths: list[Path]) -> list[str]:
        """Files or folders to ingest: the Upload view takes them and comes to the front."""
        self.show_view("upload")
        return self.upload.add_paths(paths)

    def _follow_job(self, job: dict[str, Any]) -> None:
        self.show_view("upload")
        self.upload.queue.follow(job)

    def focus_search(self) -> None:
        self.show_view("library")
        self.library.focus_search()

    def notify(self, title: str, text: str) -> None:
        """A tray message when the desktop has a tray, and always a toast in the window."""
        if self.tray is not None:
            self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 5000)
        self.toast.show_message(f"<b>{title}</b> — {text}")

    def _show_backends(self, health: dict[str, Any]) -> None:
        """Which engines this server runs on (embedded or a cluster), beside its address."""
        backends = health.get("backends") or {}
        self.server_label.setText(f"Server {self.client.base_url} · {backends_text(backends)}")
        shown = sorted(backends.items())
        self.server_label.setToolTip("\n".join(f"{part}: {value}" for part, value in shown))

    def show_error(self, text: str) -> None:
        self.statusBar().showMessage(f"⚠ {text}", ERROR_SHOW_MS)

    def _connection(self, connected: bool, text: str) -> None:
        self.link_label.setText("● live" if connected else "○ offline")
        self.link_label.setToolTip(text)
        if connected:
            self.client.get("/api/health", on_ok=self._show_backends, on_error=lambda _text: None)
        if not connected and "stopped" not in text:
            self.show_error(f"Lost the server's event stream ({text}).")

    def refresh_status(self) -> None:
        self.jobs_label.setText(self.upload.status_text())
        current = self.stack.currentWidget()
        text = getattr(current, "status_text", str)() if current is not self.upload else ""
        self.view_label.setText(text if isinstance(text, str) and not text.startswith("<") else "")

    # --- drops ------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_files(event):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_files(event)
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # --- remembered layout ------------------------------------------------------------------------

    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        for splitter in self.findChildren(QSplitter):
            state = self.settings.value(f"splitters/{splitter.objectName()}")
            if splitter.objectName() and state is not None:
                splitter.restoreState(state)
        # A first start opens the Library: the titles, or on an empty library its sample-clip offer.
        last = str(self.settings.value("window/view", "library"))
        self.show_view(last if last in self.views else "library")

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/view", self.current_view())
        for splitter in self.findChildren(QSplitter):
            if splitter.objectName():
                self.settings.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        for view in self.views.values():
            getattr(view, "shutdown", lambda: None)()
        if self.tray is not None:
            self.tray.hide()
        super().closeEvent(event)


def backends_text(backends: dict[str, str]) -> str:
    """`origin file · events sqlite · executor local`: each part's backend by its scheme."""
    names = {"origin": "origin", "event_log": "events", "executor": "executor"}
    return " · ".join(f"{name} {backends[part].split(':', 1)[0]}" for part, name in names.items()
                      if part in backends)
