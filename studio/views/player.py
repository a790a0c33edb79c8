"""Player view: the title playing through steering → edge, with controls, stats and viewer location.

The view only wires widgets to the `PlaybackSession` (intent in, state out); the session owns the
backend (python-vlc, or QtMultimedia when libvlc is missing — the status text says which).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QPixmap
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from studio.player.backend import PlaybackBackend, create_backend
from studio.player.controls import PlayerControls
from studio.player.panels import LocationPanel, StatsPanel
from studio.player.session import PlaybackSession
from studio.player.thumbs import Thumbnails, parse_vtt
from studio.player.track_menus import TrackMenus
from studio.player.tracks import TrackSelector

SEEK_STEP_S = 5.0


class PlayerView(QWidget):
    """The built-in player; `open_title(title)` plays one item of `GET /api/titles`.

    `fullscreen_changed(bool)` asks the window to hide (or restore) its own chrome: the sidebar and
    status bar are the window's, not the view's."""

    fullscreen_changed = Signal(bool)

    def __init__(self, client: Any, parent: QWidget | None = None,
                 backend: PlaybackBackend | None = None, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.backend, self.backend_note = (backend, backend.name) if backend else create_backend(self)
        self.session = PlaybackSession(client, self.backend, self)
        # the viewer's track choices live with the window's settings (per user)
        self.settings = settings or getattr(parent, "settings", None) or QSettings()
        self.tracks = TrackSelector(client, self.backend, self.settings, self)
        self.title: dict[str, Any] | None = None
        self._actions: list[QAction] = []
        self._closed = False
        self.heading = QLabel("Pick a title in the Library and press Play.", self)
        self.heading.setObjectName("playerHeading")
        self.surface = self.backend.create_surface(self)
        self.surface.setMinimumSize(320, 180)
        self.controls = PlayerControls(self)
        self.track_menus = TrackMenus(self)
        self.stats = StatsPanel(self)
        self.location = LocationPanel(self)
        self.note = QLabel(self.backend_note, self)
        self._layout()
        self._wire()
        self._show_tracks()  # empty menus, with what this backend cannot do said from the start
        self.addActions(self.shortcut_actions())
        client.get("/api/edges", on_ok=self._edges, on_error=lambda _text: None)

    def _layout(self) -> None:
        video = QWidget(self)
        column = QVBoxLayout(video)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.heading)
        column.addWidget(self.surface, 1)
        column.addWidget(self.controls)
        column.addWidget(self.track_menus)
        self.side = QWidget(self)
        side = QVBoxLayout(self.side)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.stats)
        side.addWidget(self.location, 1)
        side.addWidget(self.note)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(video)
        self.splitter.addWidget(self.side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        QVBoxLayout(self).addWidget(self.splitter)

    def _wire(self) -> None:
        c, s = self.controls, self.session
        c.play_requested.connect(s.play)
        c.pause_requested.connect(s.pause)
        c.seek_requested.connect(s.seek)
        c.volume_changed.connect(s.set_volume)
        c.quality_selected.connect(s.set_rung)
        c.fullscreen_toggled.connect(self.toggle_fullscreen)
        s.state_changed.connect(c.set_state)
        s.position_changed.connect(c.set_position)
        s.stats_changed.connect(self.stats.show_stats)
        s.ranked_changed.connect(self.location.show_ranked)
        s.message.connect(self.note.setText)
        self.location.location_changed.connect(s.set_location)
        self.track_menus.audio_selected.connect(self.tracks.choose_audio)
        self.track_menus.subtitles_selected.connect(self.tracks.choose_subtitles)
        self.tracks.changed.connect(self._show_tracks)
        self.client.events.connect(s.on_events)

    def _show_tracks(self) -> None:
        t = self.tracks
        self.track_menus.show_tracks(t.audio, t.active_audio, t.subtitles, t.active_subtitles,
                                     self.backend.track_note)

    def _edges(self, doc: dict[str, Any]) -> None:
        regions = sorted({e.get("region", "") for e in doc.get("edges", []) if e.get("region")})
        self.location.set_regions(regions)

    # --- public -------------------------------------------------------------------------------------

    def open_title(self, title: dict[str, Any], start_s: float | None = None) -> None:
        """Play `title` through steering from `start_s`, else from its `play_from` (a moment the
        Library's subtitle search found), else from the start; loads its seek thumbnails and its
        tracks' facts alongside."""
        if start_s is None:
            start_s = float(title.get("play_from") or 0.0)
        self.title = title
        self.heading.setText(f"<b>{title.get('title') or title['video_id']}</b>")
        self.controls.set_rungs(title.get("renditions") or [])
        self.controls.set_thumbnails(None)
        self.session.location = self.location.location()
        self.tracks.open(title["video_id"])
        self.session.open(title, start_s)
        self._load_thumbnails(title["video_id"])

    def _load_thumbnails(self, video_id: str) -> None:
        base = f"/origin/videos/{video_id}/thumbs"

        def sprite(vtt: bytes) -> None:
            cues = parse_vtt(vtt.decode("utf-8", "replace"))
            image = f"{base}/{cues[0].image}" if cues else f"{base}/sprite.jpg"
            self.client.fetch(image, on_ok=lambda data: self._thumbnails(video_id, cues, data),
                              on_error=lambda _t: None)

        self.client.fetch(f"{base}/thumbs.vtt", on_ok=sprite, on_error=lambda _t: None)

    def _thumbnails(self, video_id: str, cues: list, data: bytes) -> None:
        if self.title and self.title["video_id"] == video_id:
            pixmap = QPixmap()
            pixmap.loadFromData(data)
            self.controls.set_thumbnails(Thumbnails(cues, pixmap))

    def toggle_fullscreen(self) -> None:
        """The whole window fullscreen with only the video and controls; again (or Esc) restores it."""
        window = self.window()
        full = not window.isFullScreen()
        self.side.setVisible(not full)
        self.heading.setVisible(not full)
        self.fullscreen_changed.emit(full)
        window.showFullScreen() if full else window.showNormal()

    def leave_fullscreen(self) -> None:
        if self.window().isFullScreen():
            self.toggle_fullscreen()

    def status_text(self) -> str:
        return self.backend_note

    def shortcut_actions(self) -> list[QAction]:
        """Space play/pause, F fullscreen, Esc leave fullscreen, ←/→ seek 5 s (active in this view)."""
        if self._actions:
            return self._actions
        def action(text: str, key: Any, slot: Any) -> QAction:
            act = QAction(text, self, shortcut=QKeySequence(key))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(slot)
            return act
        self._actions = [action("Play/pause", Qt.Key.Key_Space, self.session.toggle),
                action("Fullscreen", Qt.Key.Key_F, self.toggle_fullscreen),
                action("Leave fullscreen", Qt.Key.Key_Escape, self.leave_fullscreen),
                action("Back 5 s", Qt.Key.Key_Left, lambda: self.session.skip(-SEEK_STEP_S)),
                action("Forward 5 s", Qt.Key.Key_Right, lambda: self.session.skip(SEEK_STEP_S))]
        return self._actions

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """End the session (final telemetry) and release the media library; once."""
        if self._closed:
            return
        self._closed = True
        self.session.close()
        self.backend.close()
