"""The Library's Tracks section on a real title (English and French audio, English subtitles) served
by the real embedded server: it lists the tracks; Add subtitle file…, Rename…, Set default and
Remove… (asked first, with Undo) each change the published title; a bad file is refused with the
server's message naming it, and nothing changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from studio.client import ApiClient
from studio.views.library import LibraryView
from tests.studio.conftest import http_json
from tests.studio.tracks_fixtures import ingest_languages_title, library_on

FRENCH = "1\r\n00:00:02,000 --> 00:00:04,000\r\n[Musique] Le pont à l'aube\r\n"
EDIT_TIMEOUT_MS = 60_000
ENGLISH = ("eng", "English", False)



@pytest.fixture(scope="module")
def languages_title(studio_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return ingest_languages_title(studio_server, tmp_path_factory)


@pytest.fixture
def library(qtbot: Any, api_client: ApiClient, languages_title: dict[str, Any]) -> LibraryView:
    return library_on(qtbot, api_client, languages_title)


def rows(view: LibraryView) -> list[list[str]]:
    tree = view.tracks.tree
    return [[group.text(0)] + [" | ".join(group.child(i).text(c) for c in range(3))
                               for i in range(group.childCount())]
            for group in (tree.topLevelItem(n) for n in range(tree.topLevelItemCount()))]


def served(server: Any, video_id: str) -> list[tuple[str, str, bool]]:
    doc = http_json(f"{server.url}/api/titles/{video_id}/tracks")
    return [(t["id"], t["name"], t["default"]) for t in doc["subtitles"]]


def idle(view: LibraryView) -> bool:
    return not view.tracks.busy


def test_tracks_are_listed_and_every_edit_reaches_the_published_title(
        qtbot: Any, library: LibraryView, languages_title: dict[str, Any], studio_server: Any,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video_id, panel = languages_title["video_id"], library.tracks
    assert rows(library) == [["Audio (2)", "English | eng | default", "Français | fra | "],
                             ["Subtitles (1)", "English | eng | "]]
    srt = tmp_path / "bridge.fr.sdh.srt"
    srt.write_bytes(FRENCH.encode("cp1252"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(srt), ""))
    panel.add_button.click()
    qtbot.waitUntil(lambda: idle(library) and "Added" in panel.status.text(), timeout=EDIT_TIMEOUT_MS)
    assert served(studio_server, video_id) == [ENGLISH, ("fr-sdh", "Français (SDH)", False)]
    assert panel.selected_subtitle()["id"] == "fr-sdh"

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Français (sourds)", True))
    panel.rename_button.click()
    qtbot.waitUntil(lambda: idle(library) and "Renamed" in panel.status.text(), timeout=EDIT_TIMEOUT_MS)
    panel.default_button.click()
    qtbot.waitUntil(lambda: idle(library) and "now the default" in panel.status.text(),
                    timeout=EDIT_TIMEOUT_MS)
    assert served(studio_server, video_id) == [ENGLISH, ("fr-sdh", "Français (sourds)", True)]
    assert rows(library)[1] == ["Subtitles (2)", "English | eng | ", "Français (sourds) | fr | default, SDH"]

    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda _p, _t, text, *a: asked.append(text)
                        or QMessageBox.StandardButton.Yes)
    panel.remove_button.click()
    qtbot.waitUntil(lambda: idle(library) and "Removed" in panel.status.text(), timeout=EDIT_TIMEOUT_MS)
    assert "Français (sourds)" in asked[0]
    assert served(studio_server, video_id) == [ENGLISH]
    assert library.toast.action.text() == "Undo"
    library.toast.action.click()
    qtbot.waitUntil(lambda: idle(library) and "Added" in panel.status.text(), timeout=EDIT_TIMEOUT_MS)
    assert served(studio_server, video_id) == [ENGLISH, ("fr-sdh", "Français (sourds)", True)]


def test_a_file_without_subtitles_is_refused_naming_it(qtbot: Any, library: LibraryView,
                                                       languages_title: dict[str, Any], studio_server: Any,
                                                       tmp_path: Path) -> None:
    before = served(studio_server, languages_title["video_id"])
    junk = tmp_path / "notes.en.srt"
    junk.write_text("these are my notes, not subtitles\n", encoding="utf-8")
    library.tracks.add_file(junk)
    qtbot.waitUntil(lambda: idle(library) and "notes.en.srt" in library.tracks.status.text(),
                    timeout=EDIT_TIMEOUT_MS)
    assert "gives no subtitles" in library.tracks.status.text()
    assert served(studio_server, languages_title["video_id"]) == before


def test_a_search_shows_what_is_said_with_its_time_and_a_click_plays_from_there(
        qtbot: Any, library: LibraryView, languages_title: dict[str, Any]) -> None:
    qtbot.keyClicks(library.search, "bridge at dawn")
    qtbot.waitUntil(lambda: "The bridge · 0:01  “The bridge at dawn”" in library.said.moments(),
                    timeout=EDIT_TIMEOUT_MS)
    assert library.said.isVisible()
    # other modules of the session may have ingested the same clip: this module's title's moment
    moment = (languages_title["video_id"], 1.0)
    items = [library.said.list.item(i) for i in range(library.said.list.count())]
    [item] = [i for i in items if i.data(Qt.ItemDataRole.UserRole) == moment]
    assert item.text() == "The bridge · 0:01  “The bridge at dawn”"
    with qtbot.waitSignal(library.play_requested) as played:
        library.said.list.itemClicked.emit(item)
    assert played.args[0]["video_id"] == languages_title["video_id"]
    assert played.args[0]["play_from"] == 1.0
    library.search.clear()
    qtbot.waitUntil(lambda: not library.said.isVisible())


def test_a_search_that_leaves_no_title_clears_the_tracks_with_the_editor(qtbot: Any,
                                                                         library: LibraryView) -> None:
    assert library.tracks.tree.topLevelItemCount() == 2
    qtbot.keyClicks(library.search, "cross tonight")  # said in the subtitles, not in any title's text
    qtbot.waitUntil(lambda: library.said.isVisible() and not library.model.titles, timeout=EDIT_TIMEOUT_MS)
    assert library.editor.current is None
    assert (library.tracks.video_id, library.tracks.tree.topLevelItemCount()) == ("", 0)
    assert not library.tracks.add_button.isEnabled()
