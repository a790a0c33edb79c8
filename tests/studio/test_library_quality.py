"""Per-rung VMAF in the Library title panel and the Upload job report, from a real ingest."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

from server.http.embedded import EmbeddedServer
from studio.views.library_edit import TitleEditor
from studio.views.upload_report import integrity_html

FIGURES = re.compile(r"(\d+p): (\d+\.\d) / (\d+\.\d) / (\d+\.\d) \(seg (\d+),")


def test_the_title_panel_shows_each_rungs_vmaf(qtbot: Any, published_title: dict[str, Any]) -> None:
    editor = TitleEditor()
    qtbot.addWidget(editor)
    editor.show_title(published_title)
    text = editor.facts.text()
    assert "VMAF" in text
    shown = {m[0]: (float(m[1]), float(m[2]), float(m[3])) for m in FIGURES.findall(text)}
    assert set(shown) == {r["name"] for r in published_title["renditions"]}
    for mean, p5, worst in shown.values():
        assert 0 < p5 <= mean <= 100 and 0 < worst <= 100


def test_a_title_without_figures_says_not_measured(qtbot: Any, published_title: dict[str, Any]) -> None:
    editor = TitleEditor()
    qtbot.addWidget(editor)
    bare = [{k: v for k, v in r.items() if k != "quality"} for r in published_title["renditions"]]
    editor.show_title({**published_title, "renditions": bare})
    assert "VMAF</b>: not measured" in editor.facts.text()


def test_the_job_report_shows_vmaf_and_the_reason_when_not_measured(studio_server: EmbeddedServer,
                                                                    published_title: dict[str, Any]) -> None:
    url = f"{studio_server.url}/origin/videos/{published_title['video_id']}/integrity.json"
    with urllib.request.urlopen(url, timeout=10) as response:
        report = json.load(response)
    assert FIGURES.search(integrity_html(report))
    report["quality"] = {"measured": False, "sample_every": 10, "rungs": [],
                         "notes": ["quality not measured: no ffmpeg with libvmaf"]}
    text = integrity_html(report)
    assert "quality not measured: no ffmpeg with libvmaf" in text and not FIGURES.search(text)
