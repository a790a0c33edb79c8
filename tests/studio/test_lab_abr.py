"""The Lab view's ABR tab offscreen against the real session server and its published title: the title
picker fills, a run does not block the GUI, the QoE bars and the session timeline are drawn, CSV export
writes one row per algorithm, and a server error is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCharts import QBarSeries, QLineSeries

from studio.views.lab_abr import AbrTab
from tests.studio.lab_helpers import export_rows, run_lab


@pytest.fixture
def abr_tab(qtbot: Any, lab_view: Any, published_title: dict[str, Any]) -> AbrTab:
    tab = lab_view.tabs_by_name["abr"]
    assert isinstance(tab, AbrTab)
    qtbot.waitUntil(lambda: tab.title.findData(published_title["video_id"]) >= 0, timeout=30_000)
    tab.title.setCurrentIndex(tab.title.findData(published_title["video_id"]))
    tab.trace.setCurrentIndex(tab.trace.findData("steps"))
    tab.sessions.setValue(4)
    tab.algorithms["mpc"].setChecked(False)
    return tab


def test_a_run_draws_qoe_bars_per_algorithm_and_one_sessions_buffer_and_rung(qtbot, abr_tab) -> None:
    run_lab(qtbot, abr_tab)
    assert abr_tab.result is not None, abr_tab.status.text()
    bars = next(s for s in abr_tab.qoe.chart().series() if isinstance(s, QBarSeries))
    assert [b.label() for b in bars.barSets()] == ["p5", "mean", "p95"]
    assert all(b.count() == 4 for b in bars.barSets())        # throughput, bba, bola, dynamic
    lines = {s.name(): s for s in abr_tab.timeline.chart().series() if isinstance(s, QLineSeries)}
    assert set(lines) == {"buffer (s)", "rung"} and lines["rung"].count() > 0
    abr_tab.sample.setCurrentText("bola")
    assert "bola" in abr_tab.timeline.chart().title()
    assert abr_tab.table.rowCount() == 4 and "Best mean QoE" in abr_tab.headline.text()


def test_export_csv_writes_one_row_per_algorithm(qtbot, abr_tab, tmp_path: Path, monkeypatch) -> None:
    run_lab(qtbot, abr_tab)
    rows = export_rows(qtbot, abr_tab, tmp_path / "abr.csv", monkeypatch)
    assert [r["algorithm"] for r in rows] == ["throughput", "bba", "bola", "dynamic"]
    assert all(float(r["rebuffer_s_mean"]) >= 0 for r in rows) and "Wrote 4 rows" in abr_tab.status.text()


def test_a_server_error_is_shown(qtbot, abr_tab) -> None:
    abr_tab.title.clear()           # no title chosen: the server answers 400
    run_lab(qtbot, abr_tab)
    assert "'title'" in abr_tab.status.text() and abr_tab.result is None


def test_the_vmaf_utility_is_asked_for_and_named_in_the_headline(qtbot, abr_tab) -> None:
    abr_tab.utility.setCurrentIndex(abr_tab.utility.findData("vmaf"))
    assert abr_tab.params()["utility"] == "vmaf"
    run_lab(qtbot, abr_tab)
    assert abr_tab.result is not None, abr_tab.status.text()
    assert abr_tab.result["settings"]["utility"] == "vmaf"
    assert abr_tab.result["qoe_weights"]["rebuffer_s"] == -100.0
    assert "VMAF utility" in abr_tab.headline.text()
