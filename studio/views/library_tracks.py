"""The Library's Tracks section for the selected title: its audio renditions and its subtitle tracks,
with Add subtitle file…, Rename…, Set default and Remove… (asks first; Undo adds it back). An audio
track can be renamed or made the default (Undo in the toast puts the name or the default back); it
cannot be removed nor left without a default.

Every change is one request; the server republishes the title (seconds) while the GUI stays free
(the client is asynchronous). Errors are shown under the list and in the status bar.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.client import ApiClient
from studio.widgets.toast import Toast

MAX_FILE_BYTES = 700 * 1024  # base64 in a JSON body within the API's 1 MB limit
FILE_FILTER = "Subtitles (*.srt *.vtt *.ass *.ssa)"
GROUPS = (("Audio", "audio", "one audio track"), ("Subtitles", "subtitles", "none"))  # (label, key, empty)
GROUP_KEYS = [key for _label, key, _empty in GROUPS]


def flags(track: dict[str, Any]) -> str:
    """`default, SDH` … what the Flags column shows of a track."""
    names = (("default", "default"), ("sdh", "SDH"), ("forced", "forced"), ("commentary", "commentary"),
             ("descriptions", "audio description"))
    return ", ".join(label for key, label in names if track.get(key))


class TracksPanel(QWidget):
    """The selected title's tracks and the edits a creator makes to its subtitles and audio."""

    def __init__(self, client: ApiClient, parent: QWidget | None = None, toast: Toast | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.toast = toast
        self.video_id = ""
        self.tracks: dict[str, Any] = {"audio": [], "subtitles": []}
        self.busy = False
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Track", "Language", "Flags"])
        self.tree.setRootIsDecorated(True)
        self.tree.itemSelectionChanged.connect(self._enable)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.add_button = QPushButton("Add subtitle file…", self)
        self.rename_button = QPushButton("Rename…", self)
        self.default_button = QPushButton("Set default", self)
        self.remove_button = QPushButton("Remove…", self)
        self.add_button.clicked.connect(self.choose_file)
        self.rename_button.clicked.connect(self.ask_rename)
        self.default_button.clicked.connect(self.set_default)
        self.remove_button.clicked.connect(self.confirm_remove)
        self._layout()
        self.show_title(None)

    def _layout(self) -> None:
        buttons = QHBoxLayout()
        for button in (self.add_button, self.rename_button, self.default_button, self.remove_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Tracks</b>", self))
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

    # --- showing ------------------------------------------------------------------------------------

    def show_title(self, title: dict[str, Any] | None) -> None:
        """Load the tracks of `title` (None: nothing selected)."""
        self.video_id = title["video_id"] if title else ""
        self._fill({"audio": [], "subtitles": []})
        self.status.setText("" if title else "Select a title to see its tracks.")
        if title:
            video_id = self.video_id
            self.client.title_tracks(video_id, on_ok=lambda doc: self._loaded(video_id, doc),
                                     on_error=self._failed)

    def _loaded(self, video_id: str, doc: dict[str, Any]) -> None:
        if video_id == self.video_id:  # else an answer for a title no longer selected
            self._fill(doc)

    def _fill(self, doc: dict[str, Any]) -> None:
        self.tracks = {"audio": doc.get("audio", []), "subtitles": doc.get("subtitles", [])}
        self.tree.clear()
        for kind, key, empty in GROUPS if self.video_id else ():
            group = QTreeWidgetItem(self.tree, [f"{kind} ({len(self.tracks[key])})"])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for track in self.tracks[key]:
                columns = [track.get("name", ""), track.get("language", ""), flags(track)]
                item = QTreeWidgetItem(group, columns)
                item.setData(0, Qt.ItemDataRole.UserRole, (key, track))
            if not self.tracks[key]:
                QTreeWidgetItem(group, [empty]).setFlags(Qt.ItemFlag.NoItemFlags)
        self.tree.expandAll()
        for column in range(self.tree.columnCount()):
            self.tree.resizeColumnToContents(column)
        self._enable()

    def selected(self) -> tuple[str, dict[str, Any]] | None:
        """(`audio` or `subtitles`, the track) of the selected row, None when no track is selected."""
        items = self.tree.selectedItems()
        data = items[0].data(0, Qt.ItemDataRole.UserRole) if items else None
        return (data[0], data[1]) if data else None

    def selected_subtitle(self) -> dict[str, Any] | None:
        chosen = self.selected()
        return chosen[1] if chosen and chosen[0] == "subtitles" else None

    def selected_audio(self) -> dict[str, Any] | None:
        chosen = self.selected()
        return chosen[1] if chosen and chosen[0] == "audio" else None

    def select_subtitle(self, track_id: str) -> None:
        """Select the subtitle row of `track_id` (the Library keeps the choice across reloads)."""
        self.select_track("subtitles", track_id)

    def select_track(self, kind: str, track_id: str) -> None:
        """Select the row of `track_id` in the `audio` or `subtitles` group."""
        for item in self._items(GROUP_KEYS.index(kind)):
            if item.data(0, Qt.ItemDataRole.UserRole)[1]["id"] == track_id:
                self.tree.setCurrentItem(item)

    def _items(self, group_index: int) -> list[QTreeWidgetItem]:
        group = self.tree.topLevelItem(group_index)
        return [group.child(i) for i in range(group.childCount())
                if group.child(i).data(0, Qt.ItemDataRole.UserRole)] if group else []

    def _enable(self) -> None:
        kind, track = self.selected() or ("", None)
        idle = bool(self.video_id) and not self.busy
        self.add_button.setEnabled(idle)
        self.rename_button.setEnabled(idle and track is not None)
        self.remove_button.setEnabled(idle and kind == "subtitles")
        default = bool(track and track.get("default"))
        # an audio group always keeps a default: only another track can take it
        self.default_button.setEnabled(idle and track is not None and not (kind == "audio" and default))
        self.default_button.setText("No default" if kind == "subtitles" and default else "Set default")

    # --- editing ------------------------------------------------------------------------------------

    def choose_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Add a subtitle file", "", FILE_FILTER)
        if path:
            self.add_file(Path(path))

    def add_file(self, path: Path) -> None:
        """Send `path` as a new text track; its name's tags (`clip.fr.sdh.srt`) say language and kind."""
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                return self._failed(f"{path.name} is {size // 1024} KB; subtitle files up to "
                                    f"{MAX_FILE_BYTES // 1024} KB can be added here.")
            body = self.client.subtitle_body(path)
        except OSError as exc:
            return self._failed(f"{path.name} cannot be read ({exc.strerror or exc}).")
        self._send_add(body, f"Adding {path.name}…")
        return None

    def _send_add(self, body: dict[str, Any], doing: str) -> None:
        self._start(doing)
        video_id = self.video_id
        self.client.add_subtitles(video_id, body, on_ok=lambda doc: self._added(video_id, doc),
                                  on_error=self._failed)

    def _added(self, video_id: str, doc: dict[str, Any]) -> None:
        self._done(video_id, doc, "Added the track."
                   + "".join(f"<br>⚠ {html.escape(w)}" for w in doc.get("warnings", [])))
        self.select_subtitle(doc.get("added", ""))

    def ask_rename(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        kind, track = chosen
        name, ok = QInputDialog.getText(self, "Rename track", "Name shown in players' menus:",
                                        text=track.get("name", ""))
        if ok and name.strip():
            (self.rename_audio if kind == "audio" else self.rename)(track["id"], name.strip())

    def rename(self, track_id: str, name: str) -> None:
        self._change(track_id, {"name": name}, f"Renamed to “{html.escape(name)}”.")

    def set_default(self) -> None:
        """Make the selected track the default; on the default subtitle itself, leave the title
        without one (an audio default can only move to another track)."""
        audio = self.selected_audio()
        if audio is not None:
            return self.make_audio_default(audio["id"])
        track = self.selected_subtitle()
        if track is not None:
            on = not track.get("default")
            self._change(track["id"], {"default": on},
                         f"“{html.escape(track['name'])}” is {'now' if on else 'no longer'} the default.")

    def _change(self, track_id: str, changes: dict[str, Any], said: str) -> None:
        self._start("Publishing the change…")
        video_id = self.video_id
        self.client.change_subtitles(video_id, track_id, changes,
                                     on_ok=lambda doc: self._changed(video_id, doc, said, track_id),
                                     on_error=self._failed)

    def _changed(self, video_id: str, doc: dict[str, Any], said: str, track_id: str) -> None:
        self._done(video_id, doc, said)
        self.select_subtitle(track_id)

    # --- audio: rename and default, each with Undo in the toast ------------------------------------

    def rename_audio(self, track_id: str, name: str) -> None:
        old = next((t.get("name", "") for t in self.tracks["audio"] if t["id"] == track_id), "")
        self._change_audio(track_id, {"name": name}, f"Renamed the audio track to “{name}”.",
                           (track_id, {"name": old}) if old else None)

    def make_audio_default(self, track_id: str) -> None:
        tracks = self.tracks["audio"]
        name = next((t.get("name", "") for t in tracks if t["id"] == track_id), track_id)
        before = next((t["id"] for t in tracks if t.get("default")), None)
        self._change_audio(track_id, {"default": True}, f"“{name}” is now the default audio track.",
                           (before, {"default": True}) if before and before != track_id else None)

    def _change_audio(self, track_id: str, changes: dict[str, Any], said: str,
                      undo: tuple[str, dict[str, Any]] | None) -> None:
        """Send one audio change; `undo` is the change that puts things back (offered in the toast)."""
        self._start("Publishing the change…")
        video_id = self.video_id
        self.client.change_audio(video_id, track_id, changes,
                                 on_ok=lambda doc: self._audio_changed(video_id, doc, said, track_id, undo),
                                 on_error=self._failed)

    def _audio_changed(self, video_id: str, doc: dict[str, Any], said: str, track_id: str,
                       undo: tuple[str, dict[str, Any]] | None) -> None:
        self._done(video_id, doc, html.escape(said))
        self.select_track("audio", track_id)
        if self.toast is not None and undo is not None and video_id == self.video_id:
            self.toast.show_message(said, "Undo", lambda: self.undo_audio(video_id, undo), ms=10_000)

    def undo_audio(self, video_id: str, undo: tuple[str, dict[str, Any]]) -> None:
        """Put back what an audio change changed (the old name, or the old default)."""
        if video_id == self.video_id:
            self._change_audio(undo[0], undo[1], "Undone: the audio tracks are as they were.", None)

    # --- subtitles: remove ------------------------------------------------------------------------

    def confirm_remove(self) -> None:
        track = self.selected_subtitle()
        if track is None:
            return
        answer = QMessageBox.question(self, "Remove track",
                                      f"Remove the subtitle track “{track.get('name')}”? "
                                      "Players stop offering it; you can undo this right after.")
        if answer == QMessageBox.StandardButton.Yes:
            self.remove(track["id"])

    def remove(self, track_id: str) -> None:
        self._start("Removing the track…")
        video_id = self.video_id
        self.client.remove_subtitles(video_id, track_id, on_ok=lambda doc: self._removed(video_id, doc),
                                     on_error=self._failed)

    def _removed(self, video_id: str, doc: dict[str, Any]) -> None:
        name = html.escape(str(doc.get("undo", {}).get("name") or doc.get("removed", "")))
        self._done(video_id, doc, f"Removed “{name}”.")
        if self.toast is not None and doc.get("undo"):
            self.toast.show_message(f"Removed the subtitle track “{name}”.", "Undo",
                                    lambda: self.undo(video_id, doc["undo"]), ms=10_000)

    def undo(self, video_id: str, body: dict[str, Any]) -> None:
        """Add a removed track back (the body the removal answered with)."""
        if video_id == self.video_id:
            self._send_add(body, "Adding the track back…")

    # --- progress and errors -----------------------------------------------------------------------

    def _start(self, doing: str) -> None:
        self.busy = True
        self.status.setText(doing)
        self._enable()

    def _done(self, video_id: str, doc: dict[str, Any], said: str) -> None:
        self.busy = False
        if video_id == self.video_id:
            self._fill(doc)
            self.status.setText(said)
        self._enable()

    def _failed(self, err: str) -> None:
        self.busy = False
        self.status.setText(f"<span style='color:#c0392b'>{html.escape(err)}</span>")
        self._enable()
        self.client.error.emit(err)
