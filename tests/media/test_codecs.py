"""The codec registry (server/media/codecs.py) and the hardware encoder choice (hw_encoders.py): the
ladder per codec, each encoder's arguments, CODECS strings read from real init segments, and the
fallback to software when a listed hardware encoder cannot encode here (no GPU on this machine)."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from server.errors import InvalidRequest, MediaError, ToolMissing
from server.media.codecs import codec_ladder, encoder_args, parse_codecs
from server.media.encode import keyframe_interval
from server.media.ffmpeg import Tools, find_tools
from server.media.hw_encoders import (
    choose_encoder,
    listed_encoders,
    probe_args,
    require_encoders,
    run_probe,
    with_encoders,
)
from server.media.model import Chunk, Rendition
from server.media.mp4box import read_init

RUNG = Rendition("720p", 1280, 720, 3000, 6000)


def test_codecs_setting_keeps_h264_first_and_refuses_an_unknown_codec_by_name() -> None:
    assert parse_codecs("av1") == ("h264", "av1")
    assert parse_codecs(" HEVC , h264,av1,av1") == ("h264", "hevc", "av1")
    with pytest.raises(InvalidRequest, match="'vp9'"):
        parse_codecs("h264,vp9")


def test_every_other_codec_gets_the_same_resolutions_at_its_bitrate_factor() -> None:
    ladder = codec_ladder([RUNG, Rendition("360p", 640, 360, 800, 1600)], ("h264", "av1", "hevc"))
    assert [(r.name, r.codec, r.height, r.bitrate_kbps) for r in ladder] == [
        ("720p", "h264", 720, 3000), ("360p", "h264", 360, 800),
        ("720p-av1", "av1", 720, 1800), ("360p-av1", "av1", 360, 480),
        ("720p-hevc", "hevc", 720, 2100), ("360p-hevc", "hevc", 360, 560)]


def test_each_codec_encodes_with_its_encoder_and_closed_gops_on_the_grid() -> None:
    hevc = encoder_args(codec_ladder([RUNG], ("hevc",))[1], "veryfast", 1, 202, 100)
    assert hevc[:2] == ["-c:v", "libx265"] and hevc[hevc.index("-tag:v") + 1] == "hvc1"
    assert "open-gop=0" in hevc[hevc.index("-x265-params") + 1]
    av1 = encoder_args(codec_ladder([RUNG], ("av1",))[1], "veryfast", 1, 202, 100)
    assert av1[:2] == ["-c:v", "libsvtav1"] and av1[av1.index("-g") + 1] == "100"
    assert av1[av1.index("-maxrate") + 1] == "1800k"


def test_av1_on_an_uneven_keyframe_grid_is_refused_with_what_to_change() -> None:
    chunk = Chunk(0, 0.0, 40.0, 1000)
    assert keyframe_interval(chunk, 4.0, Fraction(25)) == 100
    assert keyframe_interval(chunk, 4.0, Fraction(30000, 1001)) is None  # 119.88 frames: 599 after 480
    with pytest.raises(MediaError, match="whole number of frames"):
        encoder_args(codec_ladder([RUNG], ("av1",))[1], "veryfast", 1, 242, None)


@pytest.mark.parametrize(("encoder", "extra", "entry"), [
    ("libsvtav1", ["-preset", "12"], "av01"),
    ("libx265", ["-preset", "ultrafast", "-tag:v", "hvc1"], "hvc1")])
def test_codecs_string_is_read_from_the_init_segment(tmp_path: Path, encoder: str, extra: list[str],
                                                     entry: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=1",
                    "-c:v", encoder, *extra, "-pix_fmt", "yuv420p", "-f", "hls", "-hls_segment_type", "fmp4",
                    "-hls_fmp4_init_filename", "init.mp4", str(tmp_path / "p.m3u8")], check=True)
    init = read_init(tmp_path / "init.mp4")
    assert (init.kind, init.width, init.height) == ("video", 320, 180)
    if entry == "av01":  # main profile, level 2.0 (seq_level_idx 0) for 320x180, main tier, 8 bit
        assert init.codec == "av01.0.00M.08"
    else:  # Main profile, compatible with Main (bit 1) and Main 10 (bit 2), level 2.1 (63/30)
        assert init.codec.startswith("hvc1.1.6.L") and init.codec.split(".")[3][1:].isdigit()


def test_a_listed_hardware_encoder_whose_probe_fails_leaves_software_and_says_why() -> None:
    tools = find_tools()
    assert "h264_nvenc" in listed_encoders(tools)  # Debian's ffmpeg lists it; no GPU here
    ok, detail = run_probe(probe_args(tools, "h264_nvenc", ()))
    assert not ok and detail
    choice = choose_encoder(tools, "h264")
    assert (choice.encoder, choice.hardware) == ("libx264", False)
    assert "h264_nvenc" in choice.reason and detail in choice.reason
    assert with_encoders([RUNG], [choice]) == [RUNG]


def test_a_hardware_encoder_whose_probe_succeeds_is_used_for_its_codecs_rungs() -> None:
    """The GPU itself cannot run here: the probe's answer is the one thing given."""
    tried: list[str] = []

    def qsv_works(args: list[str]) -> tuple[bool, str]:
        encoder = args[args.index("-c:v") + 1]
        tried.append(encoder)
        return encoder == "hevc_qsv", "no device"

    choice = choose_encoder(find_tools(), "hevc", prober=qsv_works)
    assert tried == ["hevc_nvenc", "hevc_qsv"] and (choice.encoder, choice.hardware) == ("hevc_qsv", True)
    ladder = with_encoders(codec_ladder([RUNG], ("hevc",)), [choice])
    assert [r.encoder for r in ladder] == ["", "hevc_qsv"]
    args = encoder_args(ladder[1], "veryfast", 1, 202, 100, ladder[1].encoder)
    assert args[:2] == ["-c:v", "hevc_qsv"] and "hvc1" in args


def test_a_codec_whose_encoder_ffmpeg_lacks_is_refused_by_name(tmp_path: Path) -> None:
    lacking = tmp_path / "ffmpeg"
    lacking.write_text("#!/bin/sh\nffmpeg \"$@\" | grep -v libsvtav1\n")
    lacking.chmod(0o755)
    tools = Tools(str(lacking), "ffprobe", "test")
    require_encoders(tools, ("h264", "hevc"))
    with pytest.raises(ToolMissing, match="libsvtav1") as caught:
        require_encoders(tools, ("h264", "av1"))
    assert "AV1" in caught.value.message and caught.value.hint and "av1" in caught.value.hint
