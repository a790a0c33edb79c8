"""The Lab view's Replay tab offscreen against the real session server: a small sweep runs without
blocking the GUI, the chart has one line per policy plus Belady's MIN, CSV export writes every point,
and an error from the server is shown, not swallowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCharts import QLineSeries

from studio.views.lab_replay import ReplayTab
from tests.studio.lab_helpers import export_rows, run_lab


@pytest.fixture
def replay_tab(lab_view: Any) -> ReplayTab:
    tab = lab_view.replay
    tab.trace.setCurrentIndex(tab.trace.findData("sessions"))
    tab.sizes.setText("16M,256M")
    tab.requests.setValue(5000)
    tab.policies["fifo"].setChecked(False)
    tab.edges.setValue(2)
    tab.target.setValue(0.2)
    return tab


def test_a_sweep_draws_one_line_per_policy_plus_min_and_says_the_size_needed(qtbot, replay_tab) -> None:
    run_lab(qtbot, replay_tab)
    assert replay_tab.result is not None, replay_tab.status.text()
    chart = replay_tab.chart.chart()
    names = sorted(s.name() for s in chart.series() if isinstance(s, QLineSeries))
    assert names == ["Belady's MIN (ceiling)", "lru", "s3fifo", "target 20%", "wtinylfu"]
    lru = next(s for s in chart.series() if s.name() == "lru")
    assert lru.count() == 2                                  # one point per cache size
    assert "your 2 edges would need" in replay_tab.headline.text() and "20%" in replay_tab.headline.text()
    assert replay_tab.table.rowCount() == 8                  # 2 sizes x (3 policies + MIN)


def test_export_csv_writes_every_point(qtbot, replay_tab, tmp_path: Path, monkeypatch) -> None:
    run_lab(qtbot, replay_tab)
    rows = export_rows(qtbot, replay_tab, tmp_path / "replay.csv", monkeypatch)
    assert [(r["policy"], int(r["cache_bytes"]) >> 20) for r in rows] == [
        (p, size) for size in (16, 256) for p in ("lru", "s3fifo", "wtinylfu", "belady")]
    assert all(0 <= float(r["hit_ratio"]) <= 1 for r in rows) and "Wrote 8 rows" in replay_tab.status.text()


def test_a_bad_size_shows_the_servers_message(qtbot, replay_tab) -> None:
    replay_tab.sizes.setText("lots")
    run_lab(qtbot, replay_tab)
    assert "'lots' is not a size" in replay_tab.status.text() and replay_tab.result is None


def test_a_fill_setting_reaches_the_sweep_and_its_pushed_bytes_show(qtbot, replay_tab) -> None:
    replay_tab.requests.setValue(40_000)                     # 800 s at 50 requests/s: fills at 600 s
    replay_tab.fill.setValue(50)
    replay_tab.fill_period.setCurrentIndex(replay_tab.fill_period.findData(600))
    run_lab(qtbot, replay_tab)
    assert replay_tab.result is not None, replay_tab.status.text()
    assert replay_tab.result["settings"]["fill"] == {"titles": 50, "period_s": 600}
    pushed = [p["fill_bytes"] for p in replay_tab.result["points"] if p["policy"] != "belady"]
    assert pushed and all(b > 0 for b in pushed)
    headers = [replay_tab.table.horizontalHeaderItem(c).text() for c in range(replay_tab.table.columnCount())]
    assert "pushed by fill" in headers
