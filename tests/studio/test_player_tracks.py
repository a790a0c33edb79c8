"""The player's Audio and Subtitles menus with real VLC (dummy outputs) on a real title with English
and French audio and English subtitles, served by the real embedded server: the menus list the
tracks, picking one switches what VLC plays (VLC reports it), and the choice is remembered for the
next title through QSettings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu

from studio.player.backend import PLAYING
from studio.player.tracks import AUDIO_KEY, SUBTITLE_KEY, MenuTrack, menu_tracks, same_language
from studio.views.player import PlayerView
from tests.studio.tracks_fixtures import ingest_languages_title

PLAY_TIMEOUT_MS = 20_000



@pytest.fixture(scope="module")
def languages_title(studio_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return ingest_languages_title(studio_server, tmp_path_factory)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_player(qtbot: Any, api_client: Any, settings: QSettings) -> Iterator[Any]:
    views: list[PlayerView] = []

    def make() -> PlayerView:
        view = PlayerView(api_client, settings=settings)
        qtbot.addWidget(view)
        view.show()
        views.append(view)
        return view
    yield make
    for view in views:
        view.shutdown()


def active(view: PlayerView) -> tuple[str, str]:
    """The names of the audio and subtitle tracks VLC says it is playing."""
    backend = view.backend
    audio = dict(backend.audio_tracks()).get(backend.active_audio(), "")
    subtitles = dict(backend.subtitle_tracks()).get(backend.active_subtitle(), "")
    return audio, subtitles


def pick(menu: QMenu, label: str) -> None:
    [action] = [a for a in menu.actions() if a.text() == label]
    action.trigger()


def test_menus_list_the_tracks_switching_changes_what_vlc_plays_and_the_choice_is_kept(
        qtbot: Any, make_player: Any, settings: QSettings, languages_title: dict[str, Any]) -> None:
    view = make_player()
    assert view.backend.name == "vlc"
    view.open_title(languages_title)
    menus = view.track_menus
    qtbot.waitUntil(lambda: len(menus.labels(menus.audio_menu)) == 2
                    and len(menus.labels(menus.subtitles_menu)) == 2, timeout=PLAY_TIMEOUT_MS)
    assert menus.labels(menus.audio_menu) == ["English · eng", "Français · fra"]
    assert menus.labels(menus.subtitles_menu) == ["Off", "English · eng"]
    assert menus.checked(menus.audio_menu) == "English · eng"

    pick(menus.audio_menu, "Français · fra")
    qtbot.waitUntil(lambda: active(view)[0] == "audio Français - [French]", timeout=PLAY_TIMEOUT_MS)
    pick(menus.subtitles_menu, "English · eng")
    qtbot.waitUntil(lambda: active(view)[1] == "subs English - [English]", timeout=PLAY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: menus.checked(menus.audio_menu) == "Français · fra"
                    and menus.subtitles_button.text() == "Subtitles: English", timeout=PLAY_TIMEOUT_MS)
    assert (settings.value(AUDIO_KEY), settings.value(SUBTITLE_KEY)) == ("fra", "eng")

    view.shutdown()
    again = make_player()  # the next time the viewer plays: a fresh player, nothing picked by hand
    again.open_title(languages_title)
    qtbot.waitUntil(lambda: again.session.stats()["state"] == PLAYING
                    and active(again) == ("audio Français - [French]", "subs English - [English]"),
                    timeout=PLAY_TIMEOUT_MS)

    pick(again.track_menus.subtitles_menu, "Off")
    qtbot.waitUntil(lambda: active(again)[1] == "", timeout=PLAY_TIMEOUT_MS)
    assert settings.value(SUBTITLE_KEY) == "off"


def test_vlc_names_match_the_servers_facts_and_languages_compare_by_tag() -> None:
    found = [(0, "audio Français - [French]"), (4, "subs Français (SDH) - [French]"), (5, "subs Notes")]
    published = [{"name": "Français (SDH)", "language": "fr", "sdh": True}]
    assert menu_tracks(found, published) == [  # the server's order; what it does not know after
        MenuTrack(4, "Français (SDH)", "fr", sdh=True), MenuTrack(0, "Français", "French"),
        MenuTrack(5, "Notes")]
    assert MenuTrack(1, "Sourds", "fr", sdh=True, forced=False).label == "Sourds · fr [SDH]"
    assert same_language("fre", "fr-CA") and same_language("ger", "de") and not same_language("en", "")


def test_the_qtmultimedia_fallback_says_in_both_menus_what_it_cannot(qtbot: Any, api_client: Any,
                                                                     settings: QSettings) -> None:
    from studio.player.qt_backend import QtBackend

    view = PlayerView(api_client, backend=QtBackend(), settings=settings)
    qtbot.addWidget(view)
    try:
        for menu in (view.track_menus.audio_menu, view.track_menus.subtitles_menu):
            notes = [a.text() for a in menu.actions() if not a.isEnabled() and not a.isSeparator()]
            assert notes == [QtBackend.track_note]
            assert "install VLC" in notes[0]
    finally:
        view.shutdown()


def test_a_title_opened_at_a_moment_starts_playing_there(qtbot: Any, make_player: Any,
                                                         languages_title: dict[str, Any]) -> None:
    view = make_player()
    positions: list[float] = []
    view.backend.position_changed.connect(positions.append)
    view.open_title({**languages_title, "play_from": 5.0})  # what a subtitle search hit hands on
    qtbot.waitUntil(lambda: view.backend.last.state == PLAYING and view.backend.last.position_s >= 5.5,
                    timeout=PLAY_TIMEOUT_MS)
    # played from the start, the player would have passed the first seconds (it polls 5 times a second)
    assert not [p for p in positions if 0 < p < 3.0], positions
