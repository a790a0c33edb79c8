"""Upload view: the queue of files being ingested, and the selected job's live chunk grid and report.

Files arrive from Add…/Add folder… or from a drop anywhere on the window (MainWindow calls
`add_paths`). All state lives in `JobQueue`; this view repaints from it at most every 100 ms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.client import ApiClient
from studio.views.upload_jobs import FINISHED, MEDIA_SUFFIXES, JobQueue, JobRow
from studio.views.upload_report import JobDetail
from studio.widgets import fmt
from studio.widgets.throttle import Throttle

COLUMNS = ("File", "State", "Progress", "Speed", "ETA")
PROGRESS = 2
AnyIndex = QModelIndex | QPersistentModelIndex


class JobTableModel(QAbstractTableModel):
    """The queue as a table, newest first; `reload` keeps rows stable when only numbers changed."""

    def __init__(self, queue: JobQueue) -> None:
        super().__init__()
        self.queue = queue
        self.rows: list[JobRow] = []

    def reload(self) -> None:
        rows = self.queue.ordered()
        if [r.key for r in rows] != [r.key for r in self.rows]:
            self.beginResetModel()
            self.rows = rows
            self.endResetModel()
        elif rows:
            self.rows = rows
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = 0) -> Any:
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell(row, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.error or str(row.path or row.name)
        if role == Qt.ItemDataRole.UserRole:
            return row.key
        return None

    @staticmethod
    def cell(row: JobRow, column: int) -> Any:
        if column == 0:
            return row.name
        if column == 1:
            return row.job.get("stage") or row.state if row.state == "running" else row.state
        if column == PROGRESS:
            return row.percent
        if column == 3:
            return row.speed or "—"
        return "" if row.state in FINISHED else fmt.eta(row.eta_s)

    def key_at(self, row: int) -> str:
        return self.rows[row].key if 0 <= row < len(self.rows) else ""

    def row_of(self, key: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r.key == key), -1)


class ProgressDelegate(QStyledItemDelegate):
    """Draws the percent column as a progress bar in the current style."""

    def paint(self, painter: Any, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        style = QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 4, -2, -4)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(float(index.data()) * 10)
        bar.text = f"{float(index.data()):.0f}%"
        bar.textVisible = True
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.palette = option.palette
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class UploadView(QWidget):
    """The queue (left), the selected job's grid and integrity report (right)."""

    notify = Signal(str, str)  # title, text: the window shows it (tray message or toast)

    def __init__(self, client: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.queue = JobQueue(client, self)
        self.model = JobTableModel(self.queue)
        self.repaint_throttle = Throttle(self.repaint_now, parent=self)
        self._build()
        self.queue.changed.connect(self.repaint_throttle.poke)
        self.queue.published.connect(self._published)
        self.queue.refresh()

    def _build(self) -> None:
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(PROGRESS, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self.repaint_now())
        self.empty = QLabel("Drop video files or folders anywhere on this window,\nor use Add… to pick them.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("emptyHint")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)
        self.detail = JobDetail(self)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("uploadSplitter")
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([560, 440])  # until the window remembers the user's choice
        layout = QVBoxLayout(self)
        layout.addLayout(self._buttons())
        layout.addWidget(self.splitter, 1)

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.add_button = self._button(row, "Add…", self.choose_files)
        self._button(row, "Add folder…", self.choose_folder)
        row.addSpacing(16)
        self.cancel_button = self._button(row, "Cancel", lambda: self._on_selected(self.queue.cancel))
        self.retry_button = self._button(row, "Retry", lambda: self._on_selected(self.queue.retry))
        self.remove_button = self._button(row, "Remove", lambda: self._on_selected(self.queue.remove))
        row.addStretch(1)
        self.summary = QLabel(self)
        row.addWidget(self.summary)
        return row

    def _button(self, row: QHBoxLayout, text: str, slot: Any) -> QPushButton:
        button = QPushButton(text, self)
        button.clicked.connect(slot)
        row.addWidget(button)
        return button

    # --- intent -----------------------------------------------------------------------------------

    def add_paths(self, paths: list[Path]) -> list[str]:
        """Queue files/folders; the newest becomes the selected job."""
        keys = self.queue.add_paths(paths)
        self.repaint_now()
        if keys:
            self.select(keys[-1])
        return keys

    def choose_files(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(MEDIA_SUFFIXES))
        files, _ = QFileDialog.getOpenFileNames(self, "Add videos", str(Path.home()),
                                                f"Videos ({patterns});;All files (*)")
        self.add_paths([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of videos", str(Path.home()))
        if folder:
            self.add_paths([Path(folder)])

    def _on_selected(self, action: Any) -> None:
        key = self.selected_key()
        if key:
            action(key)

    def selected_key(self) -> str:
        return self.model.key_at(self.table.currentIndex().row())

    def select(self, key: str) -> None:
        row = self.model.row_of(key)
        if row >= 0:
            self.table.selectRow(row)

    # --- state ------------------------------------------------------------------------------------

    def repaint_now(self) -> None:
        """Everything on screen from the queue's state (called at most every ~100 ms)."""
        selected = self.selected_key()
        self.model.reload()
        self.stack.setCurrentWidget(self.table if self.model.rows else self.empty)
        if selected and self.model.row_of(selected) >= 0:
            self.table.selectRow(self.model.row_of(selected))
        elif self.model.rows and self.table.currentIndex().row() < 0:
            self.table.selectRow(0)
        row = self.queue.rows.get(self.selected_key())
        self.detail.show_row(row)
        self._buttons_for(row)
        self.summary.setText(self.status_text())

    def _buttons_for(self, row: JobRow | None) -> None:
        state = row.state if row else ""
        self.cancel_button.setEnabled(state in ("queued", "running", "publishing", "interrupted"))
        self.retry_button.setEnabled(state in ("failed", "cancelled", "interrupted", "refused"))
        self.remove_button.setEnabled(state in FINISHED)

    def _published(self, job: dict[str, Any]) -> None:
        self.notify.emit("Published", f"“{job.get('original_name', job['video_id'])}” is ready to play.")

    def status_text(self) -> str:
        running = self.queue.running()
        return f"{running} job{'s' if running != 1 else ''} running" if running else "No jobs running"

    def shortcut_actions(self) -> list[QAction]:
        """Cancel / retry / remove the selected job (active while this view is shown)."""
        actions = []
        for text, keys, act in (("Cancel the selected job", "Ctrl+.", self.queue.cancel),
                                ("Retry the selected job", "Ctrl+R", self.queue.retry),
                                ("Remove the selected job", "Ctrl+Backspace", self.queue.remove)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _checked=False, a=act: self._on_selected(a))
            actions.append(action)
        return actions
