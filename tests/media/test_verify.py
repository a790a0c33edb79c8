"""Verification on real packaged output: a correct title passes; real damage (a frame lost at a seam,
a keyframe off the grid, short audio, a lost segment) fails with a problem that says where."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.media.audio import encode_audio as encode_title_audio
from server.media.chunks import plan_chunks
from server.media.encode import encode_chunk as encode_title_chunk
from server.media.ffmpeg import Tools, find_tools
from server.media.model import MediaInfo, PackagedTitle, Rendition, WorkLayout
from server.media.mp4box import read_init
from server.media.mpd_timing import DASH_NS
from server.media.package import package_title
from server.media.probe import probe
from server.media.verify import IntegrityReport, verify_title
from tests.conftest import generate_clip
from tests.media.packaging_inputs import (
    FPS,
    RUNGS,
    SEGMENT,
    Title,
    copy_title,
    encode_audio,
    encode_chunk,
    make_title,
)


@pytest.fixture(scope="module")
def title(tmp_path_factory: pytest.TempPathFactory) -> Title:
    return make_title(tmp_path_factory.mktemp("work"))


def verify(title: Title, packaged: PackagedTitle) -> IntegrityReport:
    fps = FPS if title.renditions else None
    return verify_title(title.tools, packaged, title.expected_frames, fps, SEGMENT)


def test_a_correct_title_passes_and_the_report_is_written(title: Title, tmp_path: Path) -> None:
    report = verify(title, title.package(tmp_path / "out"))
    assert report.ok, report.problems
    saved = json.loads((tmp_path / "out" / "integrity.json").read_text())
    assert saved == report.to_dict()
    rung = saved["checks"]["renditions"]["160p"]
    assert (rung["frames"], rung["expected"], rung["demuxed_packets"]) == (70, 70, 70)
    assert rung["keyframe_times"] == [0.0, 0.8, 1.6, 2.4]
    assert rung["segment_durations"] == [0.8, 0.8, 0.8, 0.4]
    assert abs(saved["checks"]["audio"]["difference"]) <= saved["checks"]["audio"]["tolerance"]
    assert saved["checks"]["missing_files"] == []


def test_a_frame_lost_at_a_chunk_seam_fails_naming_the_rung_and_segment(title: Title, tmp_path: Path) -> None:
    broken = copy_title(title, tmp_path / "work")
    encode_chunk(broken.layout, broken.chunks[1], 40, rungs=RUNGS[1:], frames=19)  # fills segment 3
    report = verify(broken, broken.package(tmp_path / "out"))
    assert not report.ok
    lost = [p for p in report.problems if p.startswith("rung 160p: 69 frames")]
    assert lost and "segment 3 (seg_00003.m4s)" in lost[0], report.problems
    assert not any(p.startswith("rung 320p") for p in report.problems)
    assert report.checks["renditions"]["160p"]["frames"] == 69


def test_a_keyframe_off_the_grid_fails_naming_the_rung_and_segment(title: Title, tmp_path: Path) -> None:
    broken = copy_title(title, tmp_path / "work")
    encode_chunk(broken.layout, broken.chunks[0], 0, rungs=RUNGS[1:], keyframes="0,0.88")  # 2 frames late
    report = verify(broken, broken.package(tmp_path / "out"))
    assert not report.ok
    expected = "rung 160p segment 2 (seg_00002.m4s) starts at 0.880 s"
    assert any(p.startswith(expected) for p in report.problems), report.problems
    assert report.checks["renditions"]["160p"]["keyframe_times"][1] == 0.88


def test_audio_shorter_than_the_video_fails(title: Title, tmp_path: Path) -> None:
    broken = copy_title(title, tmp_path / "work")
    encode_audio(broken.layout, 2.6)
    report = verify(broken, broken.package(tmp_path / "out"))
    expected = "audio lasts 2.600 s but video 2.800 s"
    assert any(p.startswith(expected) for p in report.problems), report.problems


def test_a_segment_lost_after_packaging_is_reported_not_raised(title: Title, tmp_path: Path) -> None:
    packaged = title.package(tmp_path / "out")
    (packaged.root / "cmaf" / "320p" / "seg_00002.m4s").unlink()
    report = verify(title, packaged)
    assert not report.ok
    assert "cmaf/320p/seg_00002.m4s is named by a manifest but does not exist." in report.problems
    assert any(p.startswith("rung 320p:") and "without gaps" in p for p in report.problems)


def test_an_audio_only_title_verifies(tmp_path: Path) -> None:
    title = make_title(tmp_path / "work", video=False)
    packaged = title.package(tmp_path / "out")
    report = verify_title(title.tools, packaged, 0, None, SEGMENT)
    assert report.ok, report.problems
    assert report.checks["audio"]["duration"] == pytest.approx(2.8, abs=0.001)
    assert report.checks["renditions"] == {}


@dataclass(frozen=True)
class Encoded:
    """A title through the real encoder and packager, as an ingest makes it."""

    tools: Tools
    info: MediaInfo
    packaged: PackagedTitle


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> Encoded:
    """High profile with B-frames (an edit list on every track) and 0.98 s segments at 25 fps."""
    tmp_path = tmp_path_factory.mktemp("encoded")
    tools = find_tools()
    info = probe(generate_clip(tmp_path / "clip.mp4", seconds=3.0), tools)
    assert info.video is not None
    rungs = [Rendition("180p", 320, 180, 400, 800), Rendition("90p", 160, 90, 200, 400)]
    chunks = plan_chunks(info.duration, info.video.fps, 0.98, 2, min_chunk_seconds=0.5)
    layout = WorkLayout(tmp_path / "work")
    for chunk in chunks:
        encode_title_chunk(tools, info, chunk, rungs, layout, 0.98)
    encode_title_audio(tools, info, layout)
    packaged = package_title(tools, layout, rungs, chunks, info.video.fps, 0.98, info.audio, tmp_path / "out")
    return Encoded(tools, info, packaged)


def verify_encoded(encoded: Encoded, packaged: PackagedTitle) -> IntegrityReport:
    assert encoded.info.video is not None
    return verify_title(encoded.tools, packaged, encoded.info.expected_frames, encoded.info.video.fps, 0.98)


def test_chunks_from_the_real_encoder_on_a_grid_of_fractional_frames_verify(encoded: Encoded) -> None:
    """The encoder rounds boundaries of 24.5 frames to the nearest frame, sometimes early; every
    segment must still cut there, and the MPD must place every segment where its media presents."""
    report = verify_encoded(encoded, encoded.packaged)
    assert report.ok, report.problems
    assert report.checks["renditions"]["90p"]["keyframe_times"] == [0.0, 0.96, 1.96, 2.92]
    assert report.checks["renditions"]["90p"]["segment_frames"] == [24, 25, 24, 2]
    assert report.checks["dash_timing"] == []


def test_an_mpd_that_repeats_the_edit_list_as_its_offset_fails_naming_the_shift(encoded: Encoded,
                                                                                 tmp_path: Path) -> None:
    """The MPD that made Chromium drop every title's first segment: presentationTimeOffset equal to
    the edit list the browser applies anyway, so the video's first keyframe landed at -0.08 s."""
    packaged = PackagedTitle(tmp_path / "out", renditions=encoded.packaged.renditions,
                             audio=encoded.packaged.audio)
    shutil.copytree(encoded.packaged.root, packaged.root)
    mpd = packaged.root / packaged.mpd
    tree = ET.parse(mpd)
    for rep in tree.getroot().iterfind(".//d:Representation", DASH_NS):
        template = rep.find("d:SegmentTemplate", DASH_NS)
        assert template is not None
        media_time = read_init(packaged.root / "cmaf" / rep.get("id", "") / "init.mp4").media_time
        template.set("presentationTimeOffset", str(media_time))
    tree.write(mpd)
    report = verify_encoded(encoded, packaged)
    assert not report.ok
    expected = ("manifest.mpd puts segment 1 of 180p at -0.080 s, but its media presents from 0.000 s "
                "(after the init segment's edit list): a DASH player would shift the track by -0.080 s.")
    assert expected in report.problems, report.problems
    assert any(p.startswith("manifest.mpd puts segment 1 of audio at -0.021 s") for p in report.problems)


def test_a_damaged_segment_is_reported_with_its_file_name(title: Title, tmp_path: Path) -> None:
    packaged = title.package(tmp_path / "out")
    segment = packaged.root / "cmaf" / "160p" / "seg_00003.m4s"
    segment.write_bytes(segment.read_bytes()[: segment.stat().st_size // 2])
    report = verify(title, packaged)
    assert not report.ok
    assert any(p.startswith("rung 160p:") and "seg_00003.m4s is not a valid CMAF media segment" in p
               for p in report.problems), report.problems
