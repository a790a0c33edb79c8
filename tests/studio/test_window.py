"""Main window: drops, shortcuts, status bar, notifications, remembered layout, themes, run_studio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from studio import app as studio_app
from studio.client import ApiClient
from studio.window import MainWindow
from tests.studio.conftest import drag_enter, drop


def test_only_local_files_can_be_dropped(studio_window: Any, tmp_path: Path) -> None:
    assert not drag_enter(studio_window, [QUrl("http://example.com/video.mp4")])
    studio_window.show_view("network")
    assert drop(studio_window, tmp_path / "missing.mp4")
    assert studio_window.current_view() == "upload"


def test_keyboard_shortcuts_switch_views_and_focus_search(qtbot: Any, studio_window: Any) -> None:
    qtbot.keyClick(studio_window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert studio_window.current_view() == "library"
    qtbot.keyClick(studio_window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert studio_window.current_view() == "analytics"
    qtbot.keyClick(studio_window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert studio_window.current_view() == "library"
    qtbot.waitUntil(lambda: studio_window.library.search.hasFocus())
    listed = dict((text, keys) for keys, text in studio_window.shortcut_list())
    assert listed["Show Upload"] == "Ctrl+1" and "Retry the selected job" in listed


def test_status_bar_shows_server_jobs_and_errors(qtbot: Any, studio_window: Any,
                                                 api_client: ApiClient) -> None:
    server = f"Server {api_client.base_url}"
    embedded = f"{server} · origin file · events sqlite · executor local"
    qtbot.waitUntil(lambda: studio_window.server_label.text() == embedded, timeout=10_000)
    assert "event_log: sqlite" in studio_window.server_label.toolTip()
    qtbot.waitUntil(lambda: "running" in studio_window.jobs_label.text())
    api_client.get("/api/titles/not-a-title")
    qtbot.waitUntil(lambda: "not-a-title" in studio_window.statusBar().currentMessage(), timeout=10_000)


def test_play_opens_the_player_with_the_title(qtbot: Any, studio_window: Any,
                                             published_title: dict[str, Any]) -> None:
    studio_window.library.play_requested.emit(published_title)
    assert studio_window.current_view() == "player"
    assert studio_window.player.title["video_id"] == published_title["video_id"]
    qtbot.waitUntil(lambda: bool(studio_window.player.session.edge), timeout=10_000)  # steered to an edge


def test_notifications_show_in_the_window(studio_window: Any) -> None:
    studio_window.notify("Published", "“Clip” is ready to play.")
    assert "ready to play" in studio_window.toast.text()


def test_window_size_splitters_and_view_are_remembered(qtbot: Any, api_client: ApiClient,
                                                       tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat)
    first = MainWindow(api_client, settings)
    qtbot.addWidget(first)
    first.show()
    first.resize(790, 517)  # within the offscreen screen (800x600), above the minimum width
    size = (first.width(), first.height())
    assert size != (1280, 800)
    first.show_view("library")
    first.library.splitter.setSizes([600, 300])
    sizes = first.library.splitter.sizes()
    first.close()
    second = MainWindow(api_client, settings)
    qtbot.addWidget(second)
    second.show()
    assert second.current_view() == "library"
    assert (second.width(), second.height()) == size
    assert second.library.splitter.sizes() == sizes
    second.close()


@pytest.mark.parametrize("theme, dark", [("dark", True), ("light", False)])
def test_theme_follows_the_choice(monkeypatch: pytest.MonkeyPatch, qapp: Any, theme: str, dark: bool) -> None:
    monkeypatch.setenv(studio_app.THEME_ENV, theme)
    studio_app.apply_theme(qapp)
    window = qapp.palette().color(QPalette.ColorRole.Window)
    assert (window.lightness() < 100) is dark
    monkeypatch.setenv(studio_app.THEME_ENV, "light")
    studio_app.apply_theme(qapp)


def test_run_studio_opens_the_window_and_returns_when_it_closes(qtbot: Any, studio_server: Any,
                                                                tmp_path: Path) -> None:
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))
    seen: list[str] = []

    def close_it() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen.extend(w.windowTitle() for w in windows)
        for w in windows:
            w.close()

    QTimer.singleShot(1500, close_it)
    assert studio_app.run_studio(studio_server.url) == 0
    assert seen == [f"MiniFlix Studio — {studio_server.url}"]


def test_a_first_start_opens_the_library(qtbot: Any, api_client: ApiClient, tmp_path: Path) -> None:
    fresh = QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat)
    window = MainWindow(api_client, settings=fresh)
    qtbot.addWidget(window)
    assert window.current_view() == "library"


def test_fullscreen_playback_shows_only_the_video_and_its_controls(qtbot: Any, studio_window: Any) -> None:
    studio_window.show()
    studio_window.show_view("player")
    player = studio_window.player
    player.toggle_fullscreen()
    assert studio_window.isFullScreen()
    assert not studio_window.sidebar.isVisible() and not studio_window.statusBar().isVisible()
    assert not player.side.isVisible() and player.controls.isVisible()
    player.leave_fullscreen()
    assert not studio_window.isFullScreen()
    assert studio_window.sidebar.isVisible() and studio_window.statusBar().isVisible()
    assert player.side.isVisible()
