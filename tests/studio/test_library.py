"""Library view on the real server: posters and numbers, search as you type, facets, edit, delete+undo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from server.http.embedded import start_embedded
from server.paths import DataDir
from studio.client import ApiClient
from studio.views.library import LibraryView
from tests.conftest import generate_clip
from tests.studio.conftest import http_json, wait_published

TITLES = {"sunset": ("Sunset over the ocean", ["beach", "evening"]),
          "mountain": ("Mountain hike", ["hiking"]),
          "city": ("Rainy city walk", ["city"])}


@pytest.fixture(scope="module")
def library_titles(studio_server: Any, clip_dir: Path) -> dict[str, dict[str, Any]]:
    """Three 2 s titles with distinct names and tags, published and searchable."""
    url, jobs = studio_server.url, {}
    for key in TITLES:
        clip = generate_clip(clip_dir / f"library-{key}.mp4", seconds=2.0)
        jobs[key] = http_json(f"{url}/api/jobs", {"path": str(clip)})
    titles = {}
    for key, (name, tags) in TITLES.items():
        video_id = wait_published(url, jobs[key]["job_id"])["video_id"]
        titles[key] = http_json(f"{url}/api/titles/{video_id}", {"title": name, "tags": tags}, method="PATCH")
    return titles


@pytest.fixture
def library(qtbot: Any, api_client: ApiClient, library_titles: dict[str, Any]) -> LibraryView:
    view = LibraryView(api_client)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    api_client.start_events()
    qtbot.waitUntil(lambda: all(view.model.row_of(t["video_id"]) >= 0 for t in library_titles.values()))
    return view


def shown(view: LibraryView) -> list[str]:
    return [t["title"] for t in view.model.titles]


def test_cards_show_poster_duration_top_rung_and_views(qtbot: Any, library: LibraryView,
                                                       library_titles: dict[str, Any]) -> None:
    sunset = library_titles["sunset"]
    qtbot.waitUntil(lambda: sunset["video_id"] in library.model.posters.pixmaps)
    assert not library.model.posters.pixmaps[sunset["video_id"]].isNull()
    assert library.model.caption(sunset) == "0:02 · 180p · 0 views"


def test_typing_narrows_the_results(qtbot: Any, library: LibraryView) -> None:
    everything = len(shown(library))
    qtbot.keyClicks(library.search, "mount")
    qtbot.waitUntil(lambda: shown(library) == ["Mountain hike"])
    assert everything >= 3
    library.search.clear()
    qtbot.waitUntil(lambda: len(shown(library)) == everything)


def test_a_typo_offers_did_you_mean(qtbot: Any, library: LibraryView) -> None:
    qtbot.keyClicks(library.search, "hixx ")
    qtbot.waitUntil(lambda: library.suggestion_label.isVisible())
    assert shown(library) == [] and library.suggestion.strip() == "hike"
    library.suggestion_label.linkActivated.emit(library.suggestion)
    qtbot.waitUntil(lambda: shown(library) == ["Mountain hike"])
    assert not library.suggestion_label.isVisible()


def test_a_facet_filters_the_grid(qtbot: Any, library: LibraryView) -> None:
    tags = library.facets["tags"]
    qtbot.waitUntil(lambda: tags.findData("beach") > 0)
    assert tags.itemText(tags.findData("beach")) == "beach (1)"
    tags.setCurrentIndex(tags.findData("beach"))
    qtbot.waitUntil(lambda: shown(library) == ["Sunset over the ocean"])
    tags.setCurrentIndex(0)
    qtbot.waitUntil(lambda: len(shown(library)) >= 3)


def select(library: LibraryView, title: dict[str, Any]) -> None:
    library.grid.setCurrentIndex(library.model.index(library.model.row_of(title["video_id"])))
    assert library.editor.current is not None
    assert library.editor.current["video_id"] == title["video_id"]


def test_an_edit_shows_in_the_grid_and_on_the_server(qtbot: Any, library: LibraryView,
                                                     library_titles: dict[str, Any],
                                                     studio_server: Any) -> None:
    city = library_titles["city"]
    select(library, city)
    library.editor.title_edit.setText("Rainy city walk at night")
    library.editor.description_edit.setPlainText("Neon reflections on wet streets.")
    library.editor.tags_edit.setText("city, night")
    library.editor.save_button.click()
    qtbot.waitUntil(lambda: "Rainy city walk at night" in shown(library))
    assert "Saved" in library.toast.text()
    stored = http_json(f"{studio_server.url}/api/titles/{city['video_id']}")
    assert (stored["title"], stored["description"], stored["tags"]) == (
        "Rainy city walk at night", "Neon reflections on wet streets.", ["city", "night"])
    qtbot.keyClicks(library.search, "neon")
    qtbot.waitUntil(lambda: shown(library) == ["Rainy city walk at night"], timeout=10_000)


def test_delete_asks_first_and_undo_restores(qtbot: Any, library: LibraryView, library_titles: dict[str, Any],
                                             studio_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    mountain = library_titles["mountain"]
    asked: list[str] = []

    def answer(_parent: Any, _title: str, text: str, *args: Any) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    select(library, mountain)
    library.editor.delete_button.click()
    qtbot.waitUntil(lambda: library.model.row_of(mountain["video_id"]) < 0)
    assert "Mountain hike" in asked[0]
    assert http_json(f"{studio_server.url}/api/titles/{mountain['video_id']}")["status"] == "deleted"
    assert library.toast.action.text() == "Undo"
    library.toast.action.click()
    qtbot.waitUntil(lambda: library.model.row_of(mountain["video_id"]) >= 0)
    assert http_json(f"{studio_server.url}/api/titles/{mountain['video_id']}")["status"] == "published"


def test_declining_the_confirmation_keeps_the_title(qtbot: Any, library: LibraryView,
                                                    library_titles: dict[str, Any],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.No)
    select(library, library_titles["sunset"])
    library.editor.delete_button.click()
    qtbot.wait(300)
    assert library.model.row_of(library_titles["sunset"]["video_id"]) >= 0


def test_play_hands_the_title_dict_on(qtbot: Any, library: LibraryView,
                                      library_titles: dict[str, Any]) -> None:
    select(library, library_titles["sunset"])
    with qtbot.waitSignal(library.play_requested) as played:
        library.editor.play_button.click()
    assert played.args[0]["urls"]["play_hls"] == f"/play/{library_titles['sunset']['video_id']}/master.m3u8"


def test_an_empty_library_offers_a_sample_clip(qtbot: Any, tmp_path: Path) -> None:
    server = start_embedded(DataDir.resolve(tmp_path / "empty"))
    client = ApiClient(server.url)
    try:
        view = LibraryView(client)
        qtbot.addWidget(view)
        qtbot.waitUntil(lambda: view.loaded)
        assert view.stack.currentIndex() == 1
        assert view.sample_button.isVisibleTo(view) and "library is empty" in view.empty_text.text()
        with qtbot.waitSignal(view.sample_started, timeout=120_000) as started:
            view.sample_button.click()
            assert not view.sample_button.isEnabled() and "Making" in view.sample_button.text()
        assert started.args[0]["original_name"] == "miniflix-sample.mp4" and started.args[0]["job_id"]
        assert view.sample_button.isEnabled() and view.sample_button.text() == "Try a sample clip"
    finally:
        client.close()
        server.stop()
