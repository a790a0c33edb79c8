"""The Lab view's Cost tab offscreen against the real session server and its ingested title: the prices
default to the list prices, a run does not block the GUI and draws a stacked bar per title and the
what-if comparison, CSV export writes a row per title and the library's, and a server error is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCharts import QBarSeries, QStackedBarSeries

from studio.views.lab_cost import CostTab
from tests.studio.lab_helpers import export_rows, run_lab


@pytest.fixture
def cost_tab(qtbot: Any, lab_view: Any, published_title: dict[str, Any]) -> CostTab:
    lab_view.tabs.setCurrentIndex(2)
    tab = lab_view.tabs_by_name["cost"]
    assert isinstance(tab, CostTab)
    qtbot.waitUntil(lambda: tab.title.findData(published_title["video_id"]) >= 0, timeout=30_000)
    return tab


def test_a_run_draws_a_stacked_bar_per_title_and_the_what_ifs(qtbot, cost_tab, published_title) -> None:
    assert cost_tab.params()["price_storage"] == 0.023 and cost_tab.params()["price_cpu_hour"] == 0.0425
    cost_tab.title.setCurrentIndex(cost_tab.title.findData(published_title["video_id"]))
    cost_tab.prices["price_storage"].setValue(10.0)
    run_lab(qtbot, cost_tab)
    assert cost_tab.result is not None, cost_tab.status.text()
    [title] = cost_tab.result["titles"]
    assert title["video_id"] == published_title["video_id"] and title["stored_bytes"] > 0
    assert title["storage_usd_month"] == pytest.approx(title["stored_bytes"] / 2**30 * 10)
    assert title["cpu_s"] > 0                    # the server's ingest recorded the encode's CPU time
    bars = next(s for s in cost_tab.bars.chart().series() if isinstance(s, QStackedBarSeries))
    assert [b.label() for b in bars.barSets()] == ["storage / month", "edge egress / month",
                                                   "origin egress / month", "encode (once)"]
    assert all(b.count() == 1 for b in bars.barSets())
    assert bars.barSets()[0].at(0) == pytest.approx(title["storage_usd_month"])
    assert any(isinstance(s, QBarSeries) for s in cost_tab.comparison.chart().series())
    assert "a month for 1 titles" in cost_tab.headline.text()
    assert "Add an AV1 ladder: not measured for any title" in cost_tab.whatif_text.text()
    assert "views a month" in cost_tab.projection.text() and cost_tab.table.rowCount() == 1


def test_export_csv_writes_a_row_per_title_and_the_library(qtbot, cost_tab, tmp_path: Path,
                                                           monkeypatch) -> None:
    run_lab(qtbot, cost_tab)
    rows = export_rows(qtbot, cost_tab, tmp_path / "cost.csv", monkeypatch)
    assert rows[-1]["video_id"] == "*" and len(rows) == len(cost_tab.result["titles"]) + 1
    assert float(rows[-1]["monthly_usd"]) == pytest.approx(cost_tab.result["library"]["monthly_usd"])
    assert rows[0]["av1_monthly_usd"] == "" and "Wrote" in cost_tab.status.text()


def test_a_server_error_is_shown(qtbot, cost_tab) -> None:
    cost_tab.title.addItem("gone", "no-such-title")
    cost_tab.title.setCurrentIndex(cost_tab.title.count() - 1)
    run_lab(qtbot, cost_tab)
    assert "No title 'no-such-title'" in cost_tab.status.text() and cost_tab.result is None
