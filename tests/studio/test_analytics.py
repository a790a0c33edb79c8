"""Analytics view against the real server: a real VLC session's telemetry shows up in the charts' tables,
and CSV export writes the table the user sees."""

from __future__ import annotations

import csv
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from studio.player.backend import ENDED
from studio.views.analytics import AnalyticsView
from studio.views.analytics_charts import WINDOWS
from studio.views.player import PlayerView
from tests.studio.conftest import http_json

TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def watched(qapp: Any, studio_server: Any, published_title: dict[str, Any]) -> dict[str, Any]:
    """The fixture title played to the end once in a real player, so telemetry reached the server."""
    from pytestqt.qtbot import QtBot

    from studio.client import ApiClient
    client = ApiClient(studio_server.url)
    player = PlayerView(client)
    qtbot = QtBot(None)
    try:
        player.open_title(published_title)
        telemetry = player.session.telemetry
        assert telemetry is not None
        # played to the end, and the server has accepted the last batch (with `stopped`)
        qtbot.waitUntil(lambda: telemetry.stopped and not telemetry.in_flight, timeout=TIMEOUT_MS)
        assert player.session.stats()["state"] == ENDED and not telemetry.queue
        session_id = telemetry.context.session_id
    finally:
        player.shutdown()
        client.close()
    return {**published_title, "session_id": session_id}


@pytest.fixture
def analytics(qtbot: Any, api_client: Any) -> AnalyticsView:
    api_client.start_events(["playback", "encode"])
    view = AnalyticsView(api_client)
    qtbot.addWidget(view)
    view.resize(1100, 750)
    view.show()
    return view


def cells(view: AnalyticsView, tab: str) -> list[str]:
    table = view.panels[tab].table
    return [(table.item(r, c).text() if table.item(r, c) else "")  # type: ignore[union-attr]
            for r in range(table.rowCount()) for c in range(table.columnCount())]


def wait_for(qtbot: Any, view: AnalyticsView, condition: Callable[[], bool]) -> None:
    """Until `condition` holds, asking the server again each poll (the analytics loader runs behind)."""
    def met() -> bool:
        view.refresh()
        return condition()
    qtbot.waitUntil(met, timeout=TIMEOUT_MS)


def wait_rows(qtbot: Any, view: AnalyticsView, tab: str, text: str) -> None:
    """Until the tab's table shows `text`."""
    wait_for(qtbot, view, lambda: text in cells(view, tab))


def test_playback_telemetry_appears_in_every_chart_table(qtbot: Any, analytics: AnalyticsView,
                                                         watched: dict[str, Any]) -> None:
    wait_rows(qtbot, analytics, "qoe_by_title", watched["video_id"])
    row = next(r for r in analytics.panels["qoe_by_title"].rows if r["video_id"] == watched["video_id"])
    assert row["sessions"] >= 1 and row["startup_ms"] > 0
    assert row["title"] == watched["title"]
    wait_for(qtbot, analytics, lambda: sum(r["views"] for r in analytics.panels["views"].rows) >= 1)
    wait_for(qtbot, analytics, lambda: any(r["watch_minutes"] > 0 for r in analytics.panels["views"].rows))
    edges = {e["name"] for e in http_json(f"{analytics.client.base_url}/api/edges")["edges"]}
    wait_for(qtbot, analytics, lambda: any(r["edge"] in edges for r in analytics.panels["qoe_by_edge"].rows))
    cache = analytics.panels["cache_hit_ratio"]
    wait_for(qtbot, analytics, lambda: any(r["edge"] in edges and r["requests"] > 0 for r in cache.rows))
    wait_rows(qtbot, analytics, "encode_cost", watched["title"])
    chart = analytics.panels["qoe_by_title"].chart.chart()
    assert chart is not None and chart.series(), "the table's numbers are also drawn"


def test_metric_picker_redraws_the_chart_from_the_same_rows(qtbot: Any, analytics: AnalyticsView,
                                                             watched: dict[str, Any]) -> None:
    wait_rows(qtbot, analytics, "qoe_by_title", watched["video_id"])
    panel = analytics.panels["qoe_by_title"]
    panel.picker.setCurrentIndex(panel.picker.findData("rebuffer_ratio"))
    chart = panel.chart.chart()
    assert chart is not None and chart.title().startswith("Rebuffer ratio")


def test_csv_export_writes_the_table(qtbot: Any, analytics: AnalyticsView, watched: dict[str, Any],
                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wait_rows(qtbot, analytics, "qoe_by_title", watched["video_id"])
    analytics.tabs.setCurrentWidget(analytics.panels["qoe_by_title"])
    target = tmp_path / "qoe.csv"
    # The native save dialog cannot be clicked offscreen: answer it with the chosen path.
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(target), "CSV files (*.csv)"))
    qtbot.mouseClick(analytics.export_button, Qt.MouseButton.LeftButton)
    with target.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    panel = analytics.panels["qoe_by_title"]
    assert list(rows[0].keys()) == panel.columns
    assert len(rows) == panel.table.rowCount()
    assert any(r["video_id"] == watched["video_id"] and r["title"] == watched["title"] for r in rows)
    assert "Wrote" in analytics.status.text()


def test_export_to_an_unwritable_folder_says_so_and_writes_nothing(analytics: AnalyticsView,
                                                                  tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "x.csv"
    assert analytics.export_csv(missing) is None
    assert "Could not write" in analytics.status.text() and not missing.parent.exists()


def test_window_buckets_are_whole_hours_ending_with_the_current_one() -> None:
    now = 1_000_000.0
    starts = WINDOWS[0].boundaries(now)
    assert len(starts) == 12 and all(b - a == 3600 for a, b in pairwise(starts))
    assert starts[-1] <= now < starts[-1] + 3600 and starts[0] % 3600 == 0
