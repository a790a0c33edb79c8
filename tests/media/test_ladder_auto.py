"""The `auto` ladder: per-title for titles long enough to pay for the analysis, fixed for the rest."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from server import config
from server.media.ladder import choose_ladder
from server.media.model import MediaInfo, VideoInfo
from tests.jobs.helpers import cli, events, json_lines


def title(seconds: float, video: bool = True) -> MediaInfo:
    picture = VideoInfo(0, "h264", 1280, 720, Fraction(1), 0, Fraction(25), False, False, "yuv420p", 8,
                        False, False)
    return MediaInfo(Path("/in/t.mp4"), 1, seconds, "mov", picture if video else None, None)


def test_auto_takes_per_title_from_the_length_where_analysis_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    least = config.get("per_title_auto_seconds")
    assert choose_ladder("auto", title(least))[0] == "per-title"
    ladder, why = choose_ladder("auto", title(least - 1))
    assert ladder == "fixed" and f"pays from {least:.0f} s" in why
    assert choose_ladder("auto", title(10 * least, video=False))[0] == "fixed"   # no video, no analysis
    assert choose_ladder("per-title", title(1)) == ("per-title", "")            # asked for: no note
    assert choose_ladder("fixed", title(10 * least)) == ("fixed", "")
    monkeypatch.setenv("MINIFLIX_LADDER", "AUTO")
    assert config.get("ladder") == "auto"


@pytest.mark.parametrize("least, ladder", [("2", "per-title"), ("60", "fixed")])
def test_an_auto_ingest_says_which_ladder_it_chose(tmp_path: Path, least: str, ladder: str) -> None:
    source = tmp_path / "talk.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4",
                    "-pix_fmt", "yuv420p", str(source)], check=True)
    data = tmp_path / "d"
    run = cli("ingest", str(source), "--data-dir", str(data), "--json", "--ladder", "auto",
              env={"MINIFLIX_QUALITY_MEASURE": "off", "MINIFLIX_PER_TITLE_AUTO_SECONDS": least})
    assert run.returncode == 0, run.stderr
    [result] = json_lines(run.stdout)
    assert result["status"] == "published", result["error"]
    assert any(note.startswith(f"auto ladder: {ladder}") for note in result["notes"]), result["notes"]
    [planned] = [e for e in events(data, "videos") if e["type"] == "ladder_planned"]
    assert planned["ladder"] == ladder
    report = json.loads((data / "origin" / result["integrity"]).read_text())
    assert ("per_title" in report) == (ladder == "per-title")
