"""Probe + validate with real ffprobe: every shared sample is understood or refused clearly."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from server.errors import MediaError
from server.media.ffmpeg import find_tools
from server.media.model import VideoInfo
from server.media.probe import TAIL_SCAN_S, content_ends, packet_ends, probe, run_ffprobe
from server.media.streams import (
    choose_audio,
    choose_video,
    is_interlaced,
    is_vfr,
    output_fps,
    packet_end,
    rotation,
    snap_rate,
    video_notes,
)

NTSC = Fraction(30000, 1001)

# file: (display w, h, rotation, fps, interlaced, vfr, full_range, bit depth, audio channels or None)
SAMPLES: dict[str, tuple[Any, ...]] = {
    "iphone_rotated_-90.mov": (320, 568, 90, NTSC, False, True, False, 8, 1),
    "avchd_1080i_interlaced_ac3.mts": (1920, 1080, 0, NTSC, True, False, False, 8, 2),
    "vp8_1080p_vfr_noaudio.webm": (1920, 1080, 0, Fraction(30), False, True, False, 8, None),
    "h264_268x156_vfr_noaudio.mov": (268, 156, 0, Fraction(60), False, True, False, 8, None),
    "mpeg2_pal_anamorphic.mxf": (768, 576, 0, Fraction(25), False, False, False, 8, None),
    "h263_amrnb.3gp": (504, 288, 0, Fraction(30), False, False, False, 8, 1),
    "mjpeg_pcm_u8.mov": (640, 480, 0, Fraction(10), False, False, True, 8, 1),
    "bbb_720p_aac_5.1.mp4": (1280, 720, 0, Fraction(25), False, False, False, 8, 6),
    "qcif_176x144_sar_noaudio.mp4": (193, 144, 0, NTSC, False, False, False, 8, None),
    "hevc_main10_10bit.ts": (640, 360, 0, Fraction(30), False, False, False, 10, None),
    "hevc_portrait_720x1280_aac.ts": (720, 1280, 0, Fraction(30), False, False, False, 8, 2),
}

NOTES = {
    "iphone_rotated_-90.mov": "rotated upright (90° clockwise)",
    "avchd_1080i_interlaced_ac3.mts": "deinterlaced",
    "vp8_1080p_vfr_noaudio.webm": "variable frame rate: made constant 30 fps",
    "mpeg2_pal_anamorphic.mxf": "scaled to square pixels, 768x576",
    "mjpeg_pcm_u8.mov": "full-range (JPEG) levels: converted to limited range",
    "bbb_720p_aac_5.1.mp4": "6-channel audio (5.1): downmixed to stereo",
    "hevc_main10_10bit.ts": "converted to 8-bit yuv420p",
}


def test_every_shared_sample_is_either_described_or_refused(shared_media: Path) -> None:
    files = sorted(p.name for p in shared_media.iterdir() if p.is_file() and p.suffix != ".md")
    assert set(files) == {*SAMPLES, "truncated_h264_aac.mkv"}, "a new sample needs an expectation here"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_facts(shared_media: Path, name: str) -> None:
    width, height, turn, fps, interlaced, vfr, full_range, depth, channels = SAMPLES[name]
    info = probe(shared_media / name)
    assert info.video is not None
    video = info.video
    assert (video.display_width, video.display_height) == (width, height)
    assert (video.rotation, video.fps, video.interlaced, video.vfr) == (turn, fps, interlaced, vfr)
    assert (video.full_range, video.bit_depth) == (full_range, depth)
    assert (info.audio.channels if info.audio else None) == channels
    assert 0 < info.duration <= info.declared_duration + 1e-6
    if name in NOTES:
        assert any(NOTES[name] in note for note in info.notes), info.notes


def test_duration_is_the_picture_not_the_longer_audio(shared_media: Path) -> None:
    info = probe(shared_media / "bbb_720p_aac_5.1.mp4")       # video 132 frames = 5.28 s, audio 5.312 s
    assert info.duration == pytest.approx(5.28)
    assert info.expected_frames == 132


def test_a_truncated_file_is_refused_although_ffmpeg_accepts_it(shared_media: Path) -> None:
    with pytest.raises(MediaError) as caught:
        probe(shared_media / "truncated_h264_aac.mkv")
    error = caught.value
    assert "truncated_h264_aac.mkv" in error.message and "truncated" in error.message
    assert "1132" in error.message and error.hint and "complete file" in error.hint


@pytest.mark.parametrize("name", sorted([*SAMPLES, "truncated_h264_aac.mkv"]))
def test_the_tail_scan_finds_the_same_ends_as_a_scan_of_every_packet(shared_media: Path, name: str) -> None:
    """A short tail window forces the tail path on every real container (MXF falls back: its seek
    mistimes packets); the content length must not change."""
    path, tools = shared_media / name, find_tools()
    data = run_ffprobe(path, tools)
    video, _ = choose_video(data["streams"])
    audio, _ = choose_audio(data["streams"])
    kept = [stream["index"] for stream in (video, audio) if stream]
    every = packet_ends(path, tools)
    tail = content_ends(path, tools, data["format"], kept, tail_seconds=0.5)
    assert {i: tail.get(i) for i in kept} == {i: every[i] for i in kept}


def test_a_long_title_is_scanned_from_its_tail(make_clip: Callable[..., Path],
                                               caplog: pytest.LogCaptureFixture) -> None:
    """One scan, of the tail only (what keeps a long recording's probe short), same ends."""
    clip = make_clip("long.mp4", seconds=2.5 * TAIL_SCAN_S, size="160x90", fps=10, extra=["-g", "10"])
    tools = find_tools()
    data = run_ffprobe(clip, tools)
    assert content_ends(clip, tools, data["format"], [0, 1]) == packet_ends(clip, tools)
    with caplog.at_level(logging.DEBUG, logger="server.media.probe"):
        assert probe(clip).duration == pytest.approx(2.5 * TAIL_SCAN_S)
    scans = [r.getMessage() for r in caplog.records if "packet scan" in r.getMessage()]
    assert ["-read_intervals" in scan for scan in scans] == [True]


def test_a_stream_that_ends_before_the_tail_still_counts(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Audio that stops early has no packet in the tail: the whole file is scanned instead.

    (Muxers usually flush a stream's last packets at the end of the file, where the tail finds
    them; `-max_interleave_delta 0` writes them where they fall, as some recorders do.)"""
    seconds = 2.5 * TAIL_SCAN_S
    clip = _ffmpeg(tmp_path / "short_audio.mkv", "-f", "lavfi", "-i",
                   f"testsrc2=size=160x90:rate=10:duration={seconds}", "-f", "lavfi", "-i",
                   "sine=duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-c:a", "aac",
                   "-max_interleave_delta", "0")
    tools = find_tools()
    data = run_ffprobe(clip, tools)
    ends = content_ends(clip, tools, data["format"], [0, 1])
    assert ends[1] == pytest.approx(3.0, abs=0.1) and ends[0] == pytest.approx(seconds, abs=0.1)
    with caplog.at_level(logging.DEBUG, logger="server.media.probe"):
        assert probe(clip).duration == pytest.approx(seconds, abs=0.1)
    scans = [r.getMessage() for r in caplog.records if "packet scan" in r.getMessage()]
    assert ["-read_intervals" in scan for scan in scans] == [True, False]  # the tail, then everything


def test_a_long_mp4_cut_short_is_refused_as_truncated(make_clip: Callable[..., Path]) -> None:
    """The index (moov first) still lists every packet; the data stops halfway."""
    clip = make_clip("cut.mp4", seconds=3 * TAIL_SCAN_S, size="160x90", fps=10,
                     extra=["-g", "10", "-movflags", "+faststart"])
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) * 2 // 5])
    with pytest.raises(MediaError, match=r"cut\.mp4 looks truncated: its header claims 30.0 s"):
        probe(clip)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "upload.mp4"
    empty.touch()
    with pytest.raises(MediaError, match=r"upload\.mp4 is empty \(0 bytes\)"):
        probe(empty)


def test_a_text_file_named_mp4_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a shopping list, not a film\n")
    with pytest.raises(MediaError) as caught:
        probe(fake)
    assert "notes.mp4 is not a video or audio file" in caught.value.message
    assert "Invalid data" in caught.value.message


def test_a_missing_path_and_a_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="does not exist"):
        probe(tmp_path / "nothing.mov")
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    with pytest.raises(MediaError, match="is not a regular file"):
        probe(folder)


def test_a_file_without_audio_or_video_is_refused(tmp_path: Path) -> None:
    subtitles = tmp_path / "captions.srt"
    subtitles.write_text("1\n00:00:01,000 --> 00:00:02,000\nHello\n")
    with pytest.raises(MediaError, match=r"captions\.srt has no video or audio stream .*subtitle"):
        probe(subtitles)


def test_a_stream_that_does_not_decode_is_refused(make_clip: Callable[..., Path]) -> None:
    """A damaged upload: the container is intact, every byte of picture data is zero."""
    clip = make_clip("damaged.mp4", seconds=1, audio=False, extra=["-movflags", "+faststart"])
    data = bytearray(clip.read_bytes())
    payload = data.find(b"mdat") + 4
    data[payload:] = bytes(len(data) - payload)
    clip.write_bytes(bytes(data))
    with pytest.raises(MediaError) as caught:
        probe(clip)
    assert caught.value.message == "damaged.mp4: no frame of its video stream (h264) could be decoded."
    assert caught.value.hint and "damaged" in caught.value.hint


def test_an_unreadable_file_is_refused(make_clip: Callable[..., Path]) -> None:
    """Permissions are real: as root (who reads anything) the check runs in a child that drops to nobody."""
    folder = Path(tempfile.mkdtemp(prefix="miniflix-unreadable-"))
    try:
        folder.chmod(0o755)
        clip = make_clip("locked.mp4", seconds=0.5, audio=False).replace(folder / "locked.mp4")
        clip.chmod(0)
        message = _probe_as_other_user(clip) if os.geteuid() == 0 else _probe_message(clip)
        assert "locked.mp4 cannot be read" in message and "ermission denied" in message
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


def _probe_message(path: Path) -> str:
    try:
        probe(path)
    except MediaError as exc:
        return str(exc)
    return "probe accepted the file"


def _probe_as_other_user(path: Path) -> str:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody, probe, report, exit without running pytest's teardown
        os.close(read)
        os.setgid(65534)
        os.setuid(65534)
        os.write(write, _probe_message(path).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


def test_several_audio_tracks_keep_the_default_first_and_the_others_as_alternates(tmp_path: Path) -> None:
    source = _ffmpeg(tmp_path / "tracks.mkv", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10:duration=1",
                     *[a for f in (440, 660, 880) for a in ("-f", "lavfi", "-i", f"sine=f={f}:d=1")],
                     "-map", "0", "-map", "1", "-map", "2", "-map", "3", "-c:v", "libx264", "-preset",
                     "ultrafast", "-c:a", "aac", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1",
                     "language=fre", "-metadata:s:a:2", "language=ger", "-disposition:a:0", "0",
                     "-disposition:a:1", "default", "-disposition:a:2", "0")
    info = probe(source)
    assert info.audio is not None and (info.audio.index, info.audio.language) == (2, "fre")
    assert [(a.index, a.language) for a in info.dropped_audio] == [(1, "eng"), (3, "ger")]
    assert ("2 audio tracks kept as alternate audio: stream 1 (eng, aac 1ch), stream 3 (ger, aac 1ch)"
            in info.notes)


def test_a_second_video_stream_is_ignored_and_said_so(tmp_path: Path) -> None:
    source = _ffmpeg(tmp_path / "angles.mkv", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10:duration=1",
                     "-f", "lavfi", "-i", "testsrc=size=128x72:rate=10:duration=1", "-map", "0", "-map", "1",
                     "-c:v", "libx264", "-preset", "ultrafast")
    info = probe(source)
    assert info.video is not None and (info.video.index, info.video.width) == (0, 160)
    assert "extra video stream ignored (stream 1, h264)" in info.notes


def test_audio_with_cover_art_is_an_audio_only_title(tmp_path: Path) -> None:
    song = _ffmpeg(tmp_path / "song.mp3", "-f", "lavfi", "-i", "sine=d=2", "-f", "lavfi", "-i",
                   "color=red:size=64x64:d=0.1", "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v",
                   "mjpeg", "-frames:v", "1", "-disposition:v", "attached_pic", "-id3v2_version", "3")
    info = probe(song)
    assert info.video is None and info.audio is not None and info.audio.codec == "mp3"
    assert info.expected_frames == 0
    assert info.duration == pytest.approx(2.0, abs=0.06)
    assert any(n.startswith("cover art ignored (stream 1") for n in info.notes)
    assert "audio only: no video stream" in info.notes


def test_hdr_pq_is_detected_and_tone_mapped(make_clip: Callable[..., Path]) -> None:
    clip = make_clip("hdr.mp4", seconds=1, audio=False, extra=[
        "-pix_fmt", "yuv420p10le", "-color_trc", "smpte2084", "-color_primaries", "bt2020",
        "-colorspace", "bt2020nc"])
    info = probe(clip)
    assert info.video is not None
    assert (info.video.hdr, info.video.tonemap, info.video.bit_depth) == (True, True, 10)
    assert "HDR (smpte2084): tone-mapped to SDR BT.709" in info.notes


def test_a_plain_generated_clip_has_no_notes(make_clip: Callable[..., Path]) -> None:
    info = probe(make_clip(seconds=2, fps=25))
    assert info.notes == ()
    assert info.duration == pytest.approx(2.0)
    assert info.expected_frames == 50
    assert info.audio is not None and info.audio.sample_rate == 48000


def test_odd_dimensions_are_noted(make_clip: Callable[..., Path]) -> None:
    clip = make_clip("odd.mp4", seconds=0.4, audio=False,
                     extra=["-vf", "scale=161:91", "-pix_fmt", "yuv444p"])
    info = probe(clip)
    assert info.video is not None and (info.video.width, info.video.height) == (161, 91)
    assert "odd size 161x91: renditions use even sizes" in info.notes


def test_frame_rates_snap_to_standard_values_and_cap_at_60() -> None:
    assert snap_rate(29.98) == NTSC
    assert snap_rate(23.9) == Fraction(24000, 1001)
    assert snap_rate(119.88) == 60
    assert snap_rate(9.7) == 10
    # a header claiming 90000 fps over frames 40 ms apart: trust the frames
    assert output_fps({"r_frame_rate": "90000/1"}, [0.04] * 10, False) == 25
    # a high-frame-rate phone clip is capped
    assert output_fps({"r_frame_rate": "120/1"}, [1 / 120] * 10, False) == 60
    # interlaced: r_frame_rate is the field rate, the frame rate is the average
    assert output_fps({"r_frame_rate": "50/1", "avg_frame_rate": "25/1"}, [0.04] * 10, True) == 25


def test_rotation_comes_from_the_display_matrix_or_the_rotate_tag() -> None:
    assert rotation({"side_data_list": [{"rotation": -90}]}) == 90
    assert rotation({"side_data_list": [{"rotation": 90}]}) == 270
    assert rotation({"side_data_list": [{"rotation": 180}]}) == 180
    assert rotation({"tags": {"rotate": "90"}}) == 90
    assert rotation({}) == 0


def _ffmpeg(out: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(out)], check=True)
    return out


def test_interlacing_comes_from_field_order_or_else_the_decoded_frames() -> None:
    woven = [{"interlaced_frame": 1}] * 8
    assert is_interlaced({"field_order": "tt"}, [])
    assert is_interlaced({"field_order": "unknown"}, woven)
    assert not is_interlaced({"field_order": "progressive"}, woven)
    assert not is_interlaced({}, [{"interlaced_frame": 0}] * 8)


def test_variable_frame_rate_is_irregular_intervals_or_disagreeing_rates() -> None:
    steady = [0.04] * 20
    assert not is_vfr({"r_frame_rate": "25/1", "avg_frame_rate": "25/1"}, steady, False)
    assert is_vfr({"r_frame_rate": "30/1", "avg_frame_rate": "30/1"}, [0.033, 0.1, 0.9, 0.05] * 5, False)
    assert is_vfr({"r_frame_rate": "30000/1001", "avg_frame_rate": "39600/1321"}, steady, False)
    # a field-coded stream's r_frame_rate is the field rate: not a sign of VFR
    assert not is_vfr({"r_frame_rate": "60000/1001", "avg_frame_rate": "30000/1001"}, steady, True)


def test_hdr_without_zscale_says_what_was_not_done() -> None:
    video = VideoInfo(0, "hevc", 640, 360, Fraction(1), 0, Fraction(25), False, False, "yuv420p10le", 10,
                      False, True, transfer="arib-std-b67", tonemap=False)
    notes = video_notes({"index": 0, "r_frame_rate": "25/1"}, video, [])
    assert any(n.startswith("HDR (arib-std-b67): this FFmpeg has no zscale filter") for n in notes)


def test_packet_lines_give_their_end_time() -> None:
    assert packet_end("1,1.684000,0.022000\n") == (1, pytest.approx(1.706))
    assert packet_end("0,2.5,N/A") == (0, 2.5)
    assert packet_end("0,N/A,0.04") is None and packet_end("") is None


def _tiny(out: Path, size: str) -> Path:
    """A 2 s clip whose picture is exactly `size`, odd sizes too (FFV1 in Matroska keeps any size)."""
    w, h = size.split("x")
    return _ffmpeg(out, "-f", "lavfi", "-i", f"testsrc=size=64x64:rate=25:duration=2,scale={w}:{h},setsar=1,"
                   "format=yuv444p", "-c:v", "ffv1")


@pytest.mark.parametrize("size", ["1x1", "3x3", "15x64"])
def test_a_source_too_small_to_encode_is_refused_at_probe_time(tmp_path: Path, size: str) -> None:
    with pytest.raises(MediaError) as refused:
        probe(_tiny(tmp_path / f"tiny {size}.mkv", size))
    assert refused.value.message == (f"tiny {size}.mkv: {size} is too small; the smallest source MiniFlix "
                                     "encodes is 16x16.")


def test_an_odd_sized_source_over_the_minimum_is_accepted(tmp_path: Path) -> None:
    info = probe(_tiny(tmp_path / "odd.mkv", "17x17"))
    assert info.video is not None and (info.video.display_width, info.video.display_height) == (17, 17)


@pytest.mark.parametrize("name,codec", [("photo.png", "PNG"), ("photo.jpg", "MJPEG"), ("dot.png", "PNG"),
                                        ("one frame.mp4", "H264")])
def test_a_still_image_is_refused_with_what_to_do(tmp_path: Path, name: str, codec: str) -> None:
    size = "1x1" if name == "dot.png" else "320x240"
    w, h = size.split("x")
    still = _ffmpeg(tmp_path / name, "-f", "lavfi", "-i", f"testsrc=size=320x240,scale={w}:{h}",
                    "-frames:v", "1")
    with pytest.raises(MediaError) as refused:
        probe(still)
    assert refused.value.message == f"{name} is a still image ({codec}, {size}, one frame), not a video."
    assert "make a clip of it first" in (refused.value.hint or "")
