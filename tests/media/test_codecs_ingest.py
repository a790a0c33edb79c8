"""A real ingest (`main.py ingest --codecs h264,av1,hevc`) of a short clip: an AV1 and an HEVC ladder
beside the H.264 one, packaged as CMAF in the same title, stated in both manifests with their codecs,
checked by the integrity report and decoded frame by frame by ffmpeg; and what is refused up front."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import generate_clip
from tests.jobs.helpers import cli, json_lines
from tests.media.ingested import ingest_published

LADDER = ["360p", "240p", "360p-av1", "240p-av1", "360p-hevc", "240p-hevc"]
DASH = "{urn:mpeg:dash:schema:mpd:2011}"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("codecs")
    clip = generate_clip(out / "clip.mp4", seconds=4, size="640x360", fps=25)
    return ingest_published(clip, out / "d", "--segment-seconds", "2", "--codecs", "h264,av1,hevc",
                            env={"MINIFLIX_X264_PRESET": "ultrafast"})


def test_every_codec_ladder_is_published_and_passes_the_integrity_check(
        published: tuple[Path, dict[str, Any]]) -> None:
    title, result = published
    assert [r["name"] for r in result["renditions"]] == LADDER
    assert all(r["frames"] == 100 for r in result["renditions"])
    report = json.loads((title / "integrity.json").read_text())
    assert report["ok"], report["problems"]
    assert set(report["checks"]["renditions"]) == set(LADDER)
    keyframes = {name: rung["keyframe_times"] for name, rung in report["checks"]["renditions"].items()}
    assert all(times == [0.0, 2.0] for times in keyframes.values()), keyframes
    assert any(note.startswith("AV1: software encoder libsvtav1") for note in result["notes"])


def test_the_master_names_each_variant_with_its_video_and_audio_codecs(
        published: tuple[Path, dict[str, Any]]) -> None:
    title, _ = published
    lines = (title / "master.m3u8").read_text().splitlines()
    variants = {uri.split("/")[1]: inf for inf, uri in itertools.pairwise(lines)
                if inf.startswith("#EXT-X-STREAM-INF:")}
    assert list(variants) == LADDER
    for name, inf in variants.items():
        codecs = re.search(r'CODECS="([^"]+)"', inf)
        assert codecs, inf
        video, audio = codecs[1].split(",")
        entry = {"av1": "av01", "hevc": "hvc1"}.get(name.partition("-")[2], "avc1")
        assert video.startswith(entry + ".") and audio == "mp4a.40.2" and 'AUDIO="audio"' in inf
    assert re.fullmatch(r"av01\.0\.\d\dM\.08", re.search(r'CODECS="([^,]+)', variants["360p-av1"])[1])


def test_the_mpd_has_one_video_adaptation_set_per_codec(published: tuple[Path, dict[str, Any]]) -> None:
    title, _ = published
    period = ET.parse(title / "manifest.mpd").getroot().find(f"{DASH}Period")
    assert period is not None
    sets = [s for s in period.findall(f"{DASH}AdaptationSet") if s.get("contentType") == "video"]
    assert [[r.get("id") for r in s.findall(f"{DASH}Representation")] for s in sets] == [
        LADDER[0:2], LADDER[2:4], LADDER[4:6]]
    assert [{r.get("codecs", "")[:4] for r in s.findall(f"{DASH}Representation")} for s in sets] == [
        {"avc1"}, {"av01"}, {"hvc1"}]
    assert len({s.get("id") for s in period.findall(f"{DASH}AdaptationSet")}) == 4  # 3 video + audio


@pytest.mark.parametrize("rung", ["360p-av1", "240p-av1", "360p-hevc", "240p-hevc"])
def test_ffmpeg_decodes_every_frame_of_each_rung_through_the_master(
        published: tuple[Path, dict[str, Any]], rung: str) -> None:
    title, _ = published
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostats", "-progress", "pipe:1",
                          "-i", str(title / "master.m3u8"), "-map", f"0:v:{LADDER.index(rung)}",
                          "-f", "null", "-"], capture_output=True, text=True, timeout=120, check=True)
    assert int(re.findall(r"^frame=(\d+)$", out.stdout, re.M)[-1]) == 100, out.stderr
    assert out.stderr == ""


def test_an_unknown_codec_is_a_usage_error(tmp_path: Path, make_clip: Any) -> None:
    run = cli("ingest", str(make_clip()), "--data-dir", str(tmp_path / "d"), "--codecs", "h264,vp9")
    assert run.returncode == 2 and "'vp9'" in run.stderr


def test_a_codec_this_ffmpeg_cannot_encode_is_refused_before_any_file(tmp_path: Path, make_clip: Any) -> None:
    lacking = tmp_path / "ffmpeg"
    lacking.write_text("#!/bin/sh\nffmpeg \"$@\" | grep -v libsvtav1\n")
    lacking.chmod(0o755)
    run = cli("ingest", str(make_clip()), "--data-dir", str(tmp_path / "d"), "--codecs", "av1",
              env={"MINIFLIX_FFMPEG": str(lacking)})
    assert run.returncode == 1 and "libsvtav1" in run.stderr and "AV1" in run.stderr
    assert not (tmp_path / "d" / "origin" / "videos").exists() or not any((tmp_path / "d" / "origin"
                                                                          / "videos").iterdir())


def test_av1_on_a_fractional_frame_grid_fails_early_naming_a_segment_length_that_works(
        tmp_path: Path, make_clip: Any) -> None:
    clip = make_clip("ntsc.mp4", seconds=2, extra=["-r", "30000/1001"])
    run = cli("ingest", str(clip), "--data-dir", str(tmp_path / "d"), "--json", "--codecs", "h264,av1",
              "--segment-seconds", "1")
    [result] = json_lines(run.stdout)
    assert run.returncode == 1 and result["status"] == "failed"
    assert "whole number of frames" in result["error"] and "1.001" in result["error"]
