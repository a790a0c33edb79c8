"""Every real sample in ../shared/media either publishes with a passing integrity report and the
right shape, or is refused with a message that names the file and the reason."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.jobs.helpers import cli, json_lines

REFUSED = {"truncated_h264_aac.mkv": "truncated"}


def first_variant_frames(master: str) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
                          "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", master],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


@pytest.fixture(scope="module")
def ingested(shared_media: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One `ingest` of every sample file (the queue goes on past the refused one)."""
    files = sorted(p for p in shared_media.iterdir() if p.is_file() and p.suffix != ".md")
    data = tmp_path_factory.mktemp("shared") / "d"
    run = cli("ingest", *map(str, files), "--data-dir", str(data), "--json", timeout=900)
    assert run.returncode == 1, run.stderr  # one sample is refused on purpose
    # each result names origin keys; "origin" is where the file origin keeps them
    return {Path(r["input"]).name: {**r, "origin": str(data / "origin")} for r in json_lines(run.stdout)}


def test_every_sample_has_an_outcome(ingested: dict[str, dict[str, Any]], shared_media: Path) -> None:
    names = {p.name for p in shared_media.iterdir() if p.is_file() and p.suffix != ".md"}
    assert set(ingested) == names
    for name, result in ingested.items():
        expected = "failed" if name in REFUSED else "published"
        assert result["status"] == expected, (name, result["error"])


def test_refused_samples_say_which_file_and_why(ingested: dict[str, dict[str, Any]]) -> None:
    for name, word in REFUSED.items():
        assert name in ingested[name]["error"] and word in ingested[name]["error"]


def test_published_samples_pass_integrity_and_decode_whole(ingested: dict[str, dict[str, Any]]) -> None:
    for name, result in ingested.items():
        if result["status"] != "published":
            continue
        origin = Path(result["origin"])
        report = json.loads((origin / result["integrity"]).read_text())
        assert report["ok"], (name, report["problems"])
        if result["renditions"]:
            master = str(origin / result["master"])
            assert first_variant_frames(master) == result["renditions"][0]["frames"], name


def shape(result: dict[str, Any]) -> tuple[int, int]:
    top = result["renditions"][0]
    return top["width"], top["height"]


def test_odd_sources_come_out_upright_square_and_stereo(ingested: dict[str, dict[str, Any]]) -> None:
    width, height = shape(ingested["iphone_rotated_-90.mov"])
    assert height > width  # shown 320x568: upright portrait
    width, height = shape(ingested["hevc_portrait_720x1280_aac.ts"])
    assert height > width
    width, height = shape(ingested["mpeg2_pal_anamorphic.mxf"])
    assert abs(width / height - 4 / 3) < 0.02  # 720x576 at SAR 16:15 is 4:3 on screen
    assert ingested["bbb_720p_aac_5.1.mp4"]["audio"]["channels"] == 2
    assert any("deinterlaced" in n for n in ingested["avchd_1080i_interlaced_ac3.mts"]["notes"])
    assert all(r["width"] % 2 == 0 and r["height"] % 2 == 0
               for res in ingested.values() for r in res["renditions"])
