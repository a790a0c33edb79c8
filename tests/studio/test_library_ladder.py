"""The Library's "why these rungs" chart: a real title's integrity report from the real server, and a
real per-title analysis of the same clip (real ffmpeg and libvmaf) recorded in that report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCharts import QLineSeries, QScatterSeries

from server.http.embedded import EmbeddedServer
from server.media.ffmpeg import find_tools
from server.media.per_title import analyse, record_analysis
from server.media.probe import probe
from studio.client import ApiClient
from studio.views.library_ladder import FIXED_TEXT, LadderPanel


@pytest.fixture
def analysed_title(studio_server: EmbeddedServer, published_title: dict[str, Any],
                   clip_dir: Path) -> Any:
    """The fixture title with a per-title analysis of its own clip in its integrity report (taken out
    again afterwards, so the title stays what the other tests expect)."""
    root = studio_server.services.data.origin / "videos" / published_title["video_id"]
    report = root / "integrity.json"
    before = report.read_text()
    analysis = analyse(probe(clip_dir / "fixture-clip.mp4", find_tools()), workers=2).to_dict()
    record_analysis(root, analysis)
    yield published_title, analysis
    report.write_text(before)


def test_a_fixed_ladder_title_says_why_there_is_no_chart(qtbot: Any, api_client: ApiClient,
                                                         published_title: dict[str, Any]) -> None:
    panel = LadderPanel(api_client)
    qtbot.addWidget(panel)
    panel.show()
    panel.show_title(published_title)
    qtbot.waitUntil(lambda: panel.caption.text() == FIXED_TEXT)
    assert not panel.view.isVisible() and panel.analysis is None


def test_a_per_title_ladder_draws_its_hull_and_chosen_rungs(qtbot: Any, api_client: ApiClient,
                                                            analysed_title: Any) -> None:
    title, analysis = analysed_title
    panel = LadderPanel(api_client)
    qtbot.addWidget(panel)
    panel.show()
    panel.show_title(title)
    qtbot.waitUntil(lambda: panel.analysis is not None)
    assert panel.view.isVisible() and "Per-title ladder" in panel.caption.text()
    series = panel.view.chart().series()
    lines = {s.name(): s for s in series if isinstance(s, QLineSeries) and not isinstance(s, QScatterSeries)}
    resolutions = {p["name"] for p in analysis["points"]}
    assert set(lines) == resolutions | {"hull"}           # one line per resolution, and the hull
    for name in resolutions:
        assert lines[name].count() == sum(p["name"] == name for p in analysis["points"])
    assert lines["hull"].count() == len(analysis["hull"])
    [chosen] = [s for s in series if isinstance(s, QScatterSeries)]
    assert [(p.x(), p.y()) for p in chosen.points()] == [(c["kbps"], c["vmaf"]) for c in analysis["chosen"]]

