"""The Library's Tracks section edits audio tracks on a real title (English and French audio) served
by the real embedded server: Rename… and Set default on an audio row change the published master,
Undo in the toast puts them back; Remove is not offered for audio, nor "No default"."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QInputDialog

from studio.client import ApiClient
from studio.views.library import LibraryView
from tests.studio.conftest import http_json
from tests.studio.test_library_tracks import EDIT_TIMEOUT_MS, idle, rows
from tests.studio.tracks_fixtures import ingest_languages_title, library_on


@pytest.fixture(scope="module")
def audio_title(studio_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return ingest_languages_title(studio_server, tmp_path_factory)


@pytest.fixture
def library(qtbot: Any, api_client: ApiClient, audio_title: dict[str, Any]) -> LibraryView:
    return library_on(qtbot, api_client, audio_title)


def served(server: Any, video_id: str) -> list[tuple[str, str, bool]]:
    doc = http_json(f"{server.url}/api/titles/{video_id}/tracks")
    return [(t["id"], t["name"], t["default"]) for t in doc["audio"]]


def undo(qtbot: Any, library: LibraryView) -> None:
    assert library.toast.action.text() == "Undo"
    library.toast.action.click()
    qtbot.waitUntil(lambda: idle(library) and "Undone" in library.tracks.status.text(),
                    timeout=EDIT_TIMEOUT_MS)


def test_an_audio_track_is_renamed_and_made_the_default_and_each_can_be_undone(
        qtbot: Any, library: LibraryView, audio_title: dict[str, Any], studio_server: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    video_id, panel = audio_title["video_id"], library.tracks
    original = [("audio", "English", True), ("audio-2", "Français", False)]
    assert served(studio_server, video_id) == original
    panel.select_track("audio", "audio-2")
    assert panel.rename_button.isEnabled() and panel.default_button.isEnabled()
    assert not panel.remove_button.isEnabled()

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Version française", True))
    panel.rename_button.click()
    qtbot.waitUntil(lambda: idle(library) and "Renamed" in panel.status.text(), timeout=EDIT_TIMEOUT_MS)
    assert served(studio_server, video_id) == [original[0], ("audio-2", "Version française", False)]
    assert panel.selected_audio()["id"] == "audio-2"
    undo(qtbot, library)
    assert served(studio_server, video_id) == original

    panel.select_track("audio", "audio-2")
    panel.default_button.click()
    qtbot.waitUntil(lambda: idle(library) and "now the default" in panel.status.text(),
                    timeout=EDIT_TIMEOUT_MS)
    assert served(studio_server, video_id) == [("audio", "English", False), ("audio-2", "Français", True)]
    assert rows(library)[0] == ["Audio (2)", "English | eng | ", "Français | fra | default"]
    assert panel.default_button.text() == "Set default" and not panel.default_button.isEnabled()
    undo(qtbot, library)
    assert served(studio_server, video_id) == original


def test_a_name_another_audio_track_has_is_refused_with_the_servers_message(
        qtbot: Any, library: LibraryView, audio_title: dict[str, Any], studio_server: Any) -> None:
    before = served(studio_server, audio_title["video_id"])
    library.tracks.rename_audio("audio-2", "English")
    qtbot.waitUntil(lambda: idle(library) and "already named" in library.tracks.status.text(),
                    timeout=EDIT_TIMEOUT_MS)
    assert served(studio_server, audio_title["video_id"]) == before
