"""Player view against the real embedded server: real VLC (dummy outputs) plays through steering → edge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt

from studio.player.backend import BACKEND_ENV, PAUSED, PLAYING
from studio.player.panels import CUSTOM
from studio.views.player import PlayerView
from tests.conftest import generate_clip
from tests.studio.conftest import http_json, wait_published

PLAY_TIMEOUT_MS = 20_000
ROOT = Path(__file__).resolve().parents[2]
PROBE_TIMEOUT_S = 120  # a probe takes seconds (its own watchdog ends it at 80 s); one never ending froze


@pytest.fixture
def player(qtbot: Any, api_client: Any) -> Iterator[PlayerView]:
    api_client.start_events(["cdn", "steering"])
    view = PlayerView(api_client)
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    yield view
    view.shutdown()


def wait_playing(qtbot: Any, view: PlayerView, beyond_s: float = 0.5) -> None:
    qtbot.waitUntil(lambda: view.session.stats()["state"] == PLAYING
                    and view.session.position_s > beyond_s, timeout=PLAY_TIMEOUT_MS)


def first_ranked(view: PlayerView, column: int) -> str:
    item = view.location.ranked.topLevelItem(0)
    return item.text(column) if item is not None else ""


def test_play_advances_and_stats_show_the_edge(qtbot: Any, player: PlayerView,
                                               published_title: dict[str, Any]) -> None:
    player.open_title(published_title)
    wait_playing(qtbot, player, beyond_s=1.0)
    stats = player.session.stats()
    assert stats["edge"], "the stats name the edge serving the stream"
    assert player.stats.values["edge"].text() == stats["edge"]
    assert player.location.ranked.topLevelItemCount() >= 2, "steering's ranking is listed with reasons"
    assert first_ranked(player, 1) == stats["edge"]
    qtbot.waitUntil(lambda: player.session.stats()["hits"] + player.session.stats()["misses"] > 0,
                    timeout=PLAY_TIMEOUT_MS)
    assert "hits" in player.stats.values["cache"].text()
    assert player.stats.values["rung"].text() == published_title["renditions"][0]["name"]


def test_viewer_location_changes_the_edge(qtbot: Any, player: PlayerView,
                                          published_title: dict[str, Any]) -> None:
    qtbot.waitUntil(lambda: player.location.region.findData("ap-southeast") >= 0, timeout=5000)
    player.location.select_region("eu-west")
    player.open_title(published_title)
    wait_playing(qtbot, player)
    european = player.session.edge
    player.location.select_region("ap-southeast")
    qtbot.waitUntil(lambda: player.session.edge not in ("", european), timeout=PLAY_TIMEOUT_MS)
    assert first_ranked(player, 2) == "ap-southeast"
    wait_playing(qtbot, player)
    asian = player.session.edge
    custom = player.location.region.findData(CUSTOM)
    player.location.region.setCurrentIndex(custom)
    player.location.latlon.setText("40.7, -74.0")  # New York
    qtbot.mouseClick(player.location.apply, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: first_ranked(player, 2) == "us-east", timeout=PLAY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: player.session.edge not in ("", asian), timeout=PLAY_TIMEOUT_MS)


def test_quality_menu_plays_one_rung_through_the_edge(qtbot: Any, player: PlayerView,
                                                      published_title: dict[str, Any]) -> None:
    player.open_title(published_title)
    wait_playing(qtbot, player)
    rung = published_title["renditions"][0]["name"]
    combo = player.controls.quality
    combo.setCurrentIndex(combo.findData(rung))
    qtbot.waitUntil(lambda: player.session.rung == rung, timeout=2000)
    qtbot.waitUntil(lambda: f"/cmaf/{rung}/playlist.m3u8" in player.backend.source,
                    timeout=PLAY_TIMEOUT_MS)
    wait_playing(qtbot, player)
    assert player.stats.values["rung"].text() == rung


def test_clicking_the_seek_bar_jumps_there(qtbot: Any, player: PlayerView,
                                           published_title: dict[str, Any]) -> None:
    player.open_title(published_title)
    wait_playing(qtbot, player, beyond_s=0.2)
    qtbot.mouseClick(player.controls.play_button, Qt.MouseButton.LeftButton)  # pause: time stands still
    qtbot.waitUntil(lambda: player.session.stats()["state"] == PAUSED, timeout=PLAY_TIMEOUT_MS)
    bar = player.controls.seek
    assert player.session.position_s < 2.0
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=QPoint(int(bar.width() * 0.75), bar.height() // 2))
    qtbot.waitUntil(lambda: player.session.position_s >= 0.7 * published_title["duration"] - 0.3,
                    timeout=PLAY_TIMEOUT_MS)


def test_closing_mid_play_delivers_the_stopped_event(qtbot: Any, api_client: Any,
                                                     published_title: dict[str, Any]) -> None:
    view = PlayerView(api_client)
    qtbot.addWidget(view)
    view.open_title(published_title)
    wait_playing(qtbot, view)
    telemetry = view.session.telemetry
    assert telemetry is not None
    view.shutdown()  # what the window does when it closes, before the client aborts its requests
    assert telemetry.stopped and not telemetry.in_flight and not telemetry.queue


def test_seek_bar_shows_the_sprite_thumbnail(qtbot: Any, player: PlayerView,
                                             published_title: dict[str, Any]) -> None:
    player.open_title(published_title)
    qtbot.waitUntil(lambda: player.controls.seek.thumbnails is not None, timeout=PLAY_TIMEOUT_MS)
    bar = player.controls.seek
    bar.duration_s = float(published_title["duration"])
    bar.show_preview(bar.width() // 2)
    picture = bar.preview.pixmap()
    assert not picture.isNull() and picture.width() == bar.thumbnails.cues[0].w  # type: ignore[union-attr]


def test_without_libvlc_qtmultimedia_plays_and_says_so(qtbot: Any, api_client: Any,
                                                       published_title: dict[str, Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "qt")
    view = PlayerView(api_client)
    qtbot.addWidget(view)
    try:
        assert "QtMultimedia" in view.status_text()
        view.open_title(published_title)
        wait_playing(qtbot, view)
        assert view.session.stats()["edge"]
    finally:
        view.shutdown()


def run_probe(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a `player_probe` scenario in a child process: a player frozen in native code (holding the
    GIL) cannot be interrupted in this process, so a child that never ends is the frozen window."""
    try:
        return subprocess.run([sys.executable, "-m", "tests.studio.player_probe", *args], cwd=ROOT,
                              env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the player froze: {args[0]} did not end within {PROBE_TIMEOUT_S} s\n{exc.stderr!r}")


def test_closing_the_qt_player_never_waits_holding_python(studio_server: Any,
                                                           published_title: dict[str, Any]) -> None:
    """Stopping QMediaPlayer joins FFmpeg threads that may need Python (its audio renderer asks about
    the Python-made QAudioOutput as it dies); stopping while holding the GIL froze the window."""
    done = run_probe("python-on-another-thread", studio_server.url, json.dumps(published_title))
    assert done.returncode == 0 and "closed" in done.stdout, done.stderr[-4000:]


@pytest.mark.parametrize("backend", ["vlc", "qt"])
def test_an_edge_that_stalls_mid_title_never_freezes_the_player(backend: str, studio_server: Any,
                                                                published_title: dict[str, Any]) -> None:
    """An edge that stops answering mid-title: loading another edge (a re-steer) plays, and closing
    returns; VLC's stop used to wait for the unanswered segment request forever."""
    done = run_probe("stalled-edge", backend, studio_server.url, published_title["video_id"])
    assert done.returncode == 0, done.stderr[-4000:]
    assert "reloaded\nclosed\n" in done.stdout, done.stdout


@pytest.fixture(scope="module")
def two_rung_title(studio_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 12 s 640x360 title: a ladder of 360p and 240p."""
    clip = generate_clip(tmp_path_factory.mktemp("ladder") / "ladder.mp4", seconds=12.0, size="640x360")
    job = http_json(f"{studio_server.url}/api/jobs", {"path": str(clip), "name": "Two rungs"})
    done = wait_published(studio_server.url, job["job_id"])
    return http_json(f"{studio_server.url}/api/titles/{done['video_id']}")


def test_auto_on_an_unthrottled_edge_shows_the_top_rung_within_10_s(qtbot: Any, player: PlayerView,
                                                                     two_rung_title: dict[str, Any]) -> None:
    """VLC reports the size the master playlist declares last (240p) whatever it decodes; the stats
    follow the segments this load fetches, so a fast link shows the top rung, as the edge served it."""
    top = two_rung_title["renditions"][0]["name"]
    assert [r["name"] for r in two_rung_title["renditions"]] == [top, "240p"]
    player.open_title(two_rung_title)
    qtbot.waitUntil(lambda: player.session.stats()["rung"] == top, timeout=10_000)
    assert player.stats.values["rung"].text() == top
    assert player.session.stats()["bitrate"] == two_rung_title["renditions"][0]["bandwidth"]
    assert player.stats.values["size"].text() == "640x360"      # the rung's picture, not VLC's report
