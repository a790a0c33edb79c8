"""Quality measured by a real ingest (`main.py ingest`): the integrity report, the title's rungs, the job
result, the `quality_measured` event, and a title that publishes when measuring cannot run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.jobs.helpers import cli, events, json_lines


def ingest(tmp_path: Path, clip: Path, **env: str) -> tuple[Path, dict[str, Any]]:
    data = tmp_path / "d"
    run = cli("ingest", str(clip), "--data-dir", str(data), "--json", "--segment-seconds", "2", env=env)
    assert run.returncode == 0, run.stderr
    [result] = json_lines(run.stdout)
    assert result["status"] == "published", result["error"]
    return data, result


def integrity(data: Path, result: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((data / "origin" / result["integrity"]).read_text())
    return report


@pytest.fixture
def clip(make_clip: Any) -> Path:
    path: Path = make_clip("quality.mp4", seconds=4, size="640x360", fps=25)
    return path


def test_an_ingest_measures_every_rung_and_tells_everyone(tmp_path: Path, clip: Path) -> None:
    data, result = ingest(tmp_path, clip)
    rungs = {r["name"]: r["quality"] for r in result["renditions"]}
    assert list(rungs) == ["360p", "240p"]
    for figures in rungs.values():
        assert 0 < figures["vmaf_p5"] <= figures["vmaf_mean"] <= 100
        assert figures["worst_segment"]["index"] in (1, 2) and figures["bitrate_kbps"] > 0
        assert figures["psnr_y"] > 20 and 0.5 < figures["ssim"] <= 1
    assert rungs["360p"]["vmaf_mean"] > rungs["240p"]["vmaf_mean"]  # the source is 360p
    report = integrity(data, result)["quality"]
    assert report["measured"] and report["notes"] == [] and report["sample_every"] == 3  # 100 frames
    means = {n: q["vmaf_mean"] for n, q in rungs.items()}
    assert {r["name"]: r["vmaf_mean"] for r in report["rungs"]} == means
    [measured] = [e for e in events(data, "videos") if e["type"] == "quality_measured"]
    p5s = {n: q["vmaf_p5"] for n, q in rungs.items()}
    assert {r["name"]: r["vmaf_p5"] for r in measured["renditions"]} == p5s
    listing = json.loads(cli("videos", "--data-dir", str(data), "--json").stdout)
    assert listing[0]["renditions"][0]["quality"] == rungs["360p"]  # the catalog keeps them
    query = cli("analytics", "encode_quality", "--data-dir", str(data), "--format", "json")
    assert query.returncode == 0, query.stderr
    rows = {r["rung"]: r for r in json.loads(query.stdout)}
    assert [(r["rung"], r["vmaf_mean"], r["worst_segment"]) for r in rows.values()] == \
        [(n, q["vmaf_mean"], q["worst_segment"]["index"]) for n, q in rungs.items()]
    assert rows["240p"]["avg_kbps"] == rungs["240p"]["bitrate_kbps"]


def test_without_a_measuring_ffmpeg_the_title_publishes_with_a_note(tmp_path: Path, clip: Path) -> None:
    data, result = ingest(tmp_path, clip, MINIFLIX_FFMPEG_VMAF=str(tmp_path / "no-such-ffmpeg"))
    assert all("quality" not in r for r in result["renditions"])
    [note] = [n for n in result["notes"] if n.startswith("quality not measured: ")]
    assert "MINIFLIX_FFMPEG_VMAF" in note and str(tmp_path) not in note  # what to do, no server path
    assert integrity(data, result)["quality"]["notes"] == [note]


def test_measuring_can_be_turned_off(tmp_path: Path, clip: Path) -> None:
    data, result = ingest(tmp_path, clip, MINIFLIX_QUALITY_MEASURE="off")
    assert all("quality" not in r for r in result["renditions"]) and not result["notes"]
    assert integrity(data, result)["quality"] is None
    assert not [e for e in events(data, "videos") if e["type"] == "quality_measured"]
