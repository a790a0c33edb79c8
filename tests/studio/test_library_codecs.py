"""The Library title panel lists a title's rungs with their codec."""

from __future__ import annotations

from studio.views.library_codecs import rungs_text
from studio.views.library_edit import TitleEditor


def test_rungs_are_grouped_by_codec_and_an_h264_only_title_reads_as_before() -> None:
    ladder = [{"name": "360p", "codec": "avc1.64001e"}, {"name": "240p", "codec": "avc1.640015"},
              {"name": "360p-av1", "codec": "av01.0.01M.08"}, {"name": "240p-av1", "codec": "av01.0.00M.08"},
              {"name": "360p-hevc", "codec": "hvc1.1.6.L63.90"}]
    assert rungs_text(ladder) == "H.264 360p, 240p · AV1 360p, 240p · HEVC 360p"
    assert rungs_text([{"name": "720p"}, {"name": "360p", "codec": "avc1.64001e"}]) == "720p, 360p"
    assert rungs_text([]) == ""


def test_the_title_panel_shows_the_codecs_of_its_rungs() -> None:
    facts = TitleEditor._facts({"video_id": "v1", "renditions": [
        {"name": "360p", "codec": "avc1.64001e"}, {"name": "360p-av1", "codec": "av01.0.01M.08"}]})
    assert "rungs: H.264 360p · AV1 360p" in facts
