"""MPDs packaged under the old timing model (offset = edit list) are retimed in place, once."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from server.media.cmaf import INIT_NAME, scan_track
from server.media.mpd_retime import has_offset, retime_library, retime_mpd
from server.media.mpd_timing import read_mpd_times, timing_problems
from server.media.playlists import DASH_NS
from tests.media.packaging_inputs import make_title

NS = {"d": DASH_NS}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A title packaged by today's packager (real ffmpeg)."""
    out = tmp_path_factory.mktemp("title") / "v1"
    make_title(tmp_path_factory.mktemp("work")).package(out)
    return out


def write_old_model(title_dir: Path) -> None:
    """The MPD as the packager wrote it before: media (decode) times, offset = the edit list start."""
    ET.register_namespace("", DASH_NS)
    mpd = title_dir / "manifest.mpd"
    tree = ET.parse(mpd)
    for rep in tree.getroot().iterfind(".//d:Representation", NS):
        track = scan_track(title_dir / "cmaf" / rep.get("id", ""))
        template = rep.find("d:SegmentTemplate", NS)
        assert template is not None
        template.set("presentationTimeOffset", str(track.init.media_time))
        timeline = template.find("d:SegmentTimeline", NS)
        assert timeline is not None
        for child in list(timeline):
            timeline.remove(child)
        for frag in track.fragments:
            ET.SubElement(timeline, f"{{{DASH_NS}}}S", {"t": str(frag.decode_time), "d": str(frag.duration)})
    tree.write(mpd, encoding="utf-8", xml_declaration=True)


def tracks_of(title_dir: Path) -> list:
    return [scan_track(p) for p in sorted((title_dir / "cmaf").iterdir()) if (p / INIT_NAME).is_file()]


def test_an_old_mpd_is_retimed_to_what_the_packager_writes_today(pristine: Path, tmp_path: Path) -> None:
    title = Path(shutil.copytree(pristine, tmp_path / "v1"))
    write_old_model(title)
    assert has_offset(title / "manifest.mpd")
    assert timing_problems(title / "manifest.mpd", tracks_of(title)), "the old model is not caught"

    assert retime_mpd(title) is True
    assert not has_offset(title / "manifest.mpd")
    assert timing_problems(title / "manifest.mpd", tracks_of(title)) == []
    assert read_mpd_times(title / "manifest.mpd") == read_mpd_times(pristine / "manifest.mpd")
    assert not list(title.glob(".*retimed")), "the temporary MPD was left behind"


def test_a_current_mpd_is_left_byte_for_byte(pristine: Path, tmp_path: Path) -> None:
    title = Path(shutil.copytree(pristine, tmp_path / "v1"))
    before = (title / "manifest.mpd").read_bytes()
    assert retime_mpd(title) is False
    assert (title / "manifest.mpd").read_bytes() == before


def test_one_unreadable_title_does_not_stop_the_rest(pristine: Path, tmp_path: Path) -> None:
    root = tmp_path / "videos"
    good = Path(shutil.copytree(pristine, root / "good"))
    broken = Path(shutil.copytree(pristine, root / "bad"))
    write_old_model(good)
    write_old_model(broken)
    next((broken / "cmaf").iterdir()).joinpath(INIT_NAME).write_bytes(b"not an init segment")
    before = (broken / "manifest.mpd").read_bytes()
    assert retime_library(root, ["bad", "good", "missing"]) == ["good"]
    assert (broken / "manifest.mpd").read_bytes() == before


def test_the_server_retimes_an_old_library_when_it_starts(tmp_path: Path) -> None:
    from server.engine import Engine
    from server.http.services import build_services
    from server.paths import DataDir
    from tests.http.conftest import encode_title, publish

    data = DataDir.resolve(tmp_path / "data")
    (tmp_path / "made").mkdir()
    title = publish(data, encode_title(tmp_path / "made", 2), "vold")
    folder = data.origin / "videos" / title.video_id
    write_old_model(folder)
    services = build_services(Engine(data)).start()
    try:
        assert not has_offset(folder / "manifest.mpd")
        assert timing_problems(folder / "manifest.mpd", tracks_of(folder)) == []
    finally:
        services.stop()
