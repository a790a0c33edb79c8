"""The Analytics view says when its charts include a generated demo week, removes it on request (the
charts drop to real viewing) and brings one back with Undo — against a real server of its own, so
the shared studio server's analytics stay untouched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from server.http.embedded import EmbeddedServer
from server.paths import DataDir
from studio.client import ApiClient
from studio.views.analytics import AnalyticsView
from tests.http.conftest import encode_title, publish
from tests.studio.conftest import http_json, start_test_server

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    made = encode_title(tmp_path_factory.mktemp("demo-made"), 4)
    data = DataDir.resolve(tmp_path_factory.mktemp("demo-data"))
    publish(data, made)
    running = start_test_server(data)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def view(qtbot: Any, server: EmbeddedServer) -> Iterator[AnalyticsView]:
    client = ApiClient(server.url)
    shown = AnalyticsView(client)
    qtbot.addWidget(shown)
    shown.resize(1100, 750)
    shown.show()
    yield shown
    shown.hide()               # no refresh may reach the client after it is gone
    shown._soon.stop()
    client.close()
    client.deleteLater()


def total_views(view: AnalyticsView) -> int:
    return sum(int(r["views"]) for r in view.panels["views"].rows)


def settle(qtbot: Any, view: AnalyticsView, condition: Any) -> None:
    def met() -> bool:
        view.refresh()
        return bool(condition())
    qtbot.waitUntil(met, timeout=TIMEOUT_MS)


def test_the_demo_banner_removes_the_demo_week_and_undo_brings_one_back(qtbot: Any, server: EmbeddedServer,
                                                                        view: AnalyticsView) -> None:
    seeded = http_json(f"{server.url}/api/demo/week", {"days": 1, "views_per_day": 40})
    assert seeded["sessions"] == 40
    view.window_picker.setCurrentIndex(0)            # the last 12 hours
    settle(qtbot, view, lambda: view.demo.isVisible() and "40 simulated views" in view.demo.text.text())
    settle(qtbot, view, lambda: total_views(view) > 0)
    assert view.demo.remove_button.isVisible() and not view.demo.undo_button.isVisible()

    qtbot.mouseClick(view.demo.remove_button, qtbot_left())
    settle(qtbot, view, lambda: "removed" in view.demo.text.text() and total_views(view) == 0)
    assert view.demo.undo_button.isVisible() and not view.demo.remove_button.isVisible()

    qtbot.mouseClick(view.demo.undo_button, qtbot_left())
    settle(qtbot, view, lambda: "1,050 simulated views" in view.demo.text.text() and total_views(view) > 0)
    assert len(http_json(f"{server.url}/api/demo")["batches"]) == 1


def qtbot_left() -> Any:
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_the_banner_goes_when_the_demo_data_goes_elsewhere(qtbot: Any, server: EmbeddedServer,
                                                           view: AnalyticsView) -> None:
    """Removed from the CLI or another window: this view stops saying its charts include a demo."""
    if not http_json(f"{server.url}/api/demo")["batches"]:
        http_json(f"{server.url}/api/demo/week", {"days": 1, "views_per_day": 10})
    settle(qtbot, view, lambda: view.demo.isVisible() and view.demo.remove_button.isVisible())
    for batch in http_json(f"{server.url}/api/demo")["batches"]:
        http_json(f"{server.url}/api/demo/{batch['batch']}", method="DELETE")
    settle(qtbot, view, lambda: not view.demo.isVisible())
    assert view.demo.batches == []
