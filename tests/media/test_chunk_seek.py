"""Chunks of real camera and broadcast files start on the right picture.

A chunk seeks its source to its first frame. Some demuxers land elsewhere: the PAL MXF sample
labels the frames after a seek 0.6 s off, and a chunk there started with pictures from before its
start (and open-GOP garbage). Played in order, the chunks must show the same pictures as the title
decoded from its start in one piece.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from server.media.chunks import plan_chunks
from server.media.encode import encode_chunk
from server.media.ffmpeg import find_tools
from server.media.model import MediaInfo, Rendition, WorkLayout
from server.media.probe import probe, with_keyframes
from tests.jobs.helpers import cli, json_lines

WIDTH, HEIGHT = 64, 48
RUNG = Rendition("tiny", WIDTH, HEIGHT, 4000, 8000)
SEGMENT = 1.0


def gray_frames(path: Path) -> list[bytes]:
    """Every frame of a rung file as 64x48 luma planes."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray",
                          "-"], check=True, capture_output=True).stdout
    size = WIDTH * HEIGHT
    return [raw[at:at + size] for at in range(0, len(raw), size)]


def distance(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def encoded(info: MediaInfo, work: Path, chunk_count: int) -> list[bytes]:
    """The title encoded in `chunk_count` chunks (one: no seek at all), decoded in chunk order."""
    assert info.video is not None
    chunks = plan_chunks(info.duration, info.video.fps, SEGMENT, chunk_count, min_chunk_seconds=SEGMENT,
                         keyframes=info.keyframes or ()) if chunk_count > 1 else \
        plan_chunks(info.duration, info.video.fps, SEGMENT, 1, min_chunk_seconds=info.duration)
    assert len(chunks) >= min(chunk_count, 2)
    layout = WorkLayout(work)
    frames: list[bytes] = []
    for chunk in chunks:
        encode_chunk(find_tools(), info, chunk, [RUNG], layout, SEGMENT, "ultrafast")
        frames += gray_frames(layout.chunk_file(RUNG.name, chunk.index))
    return frames


@pytest.mark.parametrize("name", ["mpeg2_pal_anamorphic.mxf", "hevc_main10_10bit.ts",
                                  "hevc_portrait_720x1280_aac.ts", "bbb_720p_aac_5.1.mp4",
                                  "vp8_1080p_vfr_noaudio.webm", "h263_amrnb.3gp",
                                  "qcif_176x144_sar_noaudio.mp4"])
def test_every_chunk_starts_on_its_own_picture(shared_media: Path, tmp_path: Path, name: str) -> None:
    info = with_keyframes(probe(shared_media / name))
    whole = encoded(info, tmp_path / "whole", 1)
    chunked = encoded(info, tmp_path / "chunked", 4)
    assert len(chunked) == len(whole) == info.expected_frames
    wrong = [n for n, (a, b) in enumerate(zip(chunked, whole, strict=True)) if distance(a, b) > 3.0]
    assert not wrong, f"{name}: frames {wrong}… differ from the title decoded in one piece"


def test_the_quality_measure_compares_each_rung_with_its_own_source_pictures(shared_media: Path,
                                                                             tmp_path: Path) -> None:
    """The portrait TS's video starts 1.4 frames after its audio. Read plainly, ffmpeg counts a TS
    from its video's first frame; the chunks count from the container's start. A reference read
    plainly sat one frame off the rungs: the top rung scored VMAF 34.8 instead of 91."""
    source = shared_media / "hevc_portrait_720x1280_aac.ts"
    run = cli("ingest", str(source), "--data-dir", str(tmp_path / "d"), "--json")
    assert run.returncode == 0, run.stderr
    [result] = json_lines(run.stdout)
    top = result["renditions"][0]
    assert top["width"] == 720 and top["quality"]["vmaf_mean"] > 85, top["quality"]


def test_audio_that_starts_after_the_picture_plays_at_its_own_time(tmp_path: Path) -> None:
    """A TS whose audio starts 0.48 s after its picture, a beep at 0.98 s of the container's clock:
    read plainly, ffmpeg counted the audio from its first packet and the beep played at 0.52 s."""
    source = tmp_path / "late_audio.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4",
                    "-f", "lavfi", "-i", "sine=frequency=1000:duration=0.2,adelay=500|500,apad=whole_dur=3.5",
                    "-filter_complex", "[1:a]asetpts=PTS+0.5/TB[a]", "-map", "0:v", "-map", "[a]",
                    "-c:v", "libx264", "-g", "25", "-c:a", "aac", "-f", "mpegts", str(source)], check=True)
    starts = {line.split(",")[0]: float(line.split(",")[1]) for line in subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,start_time", "-of", "csv=p=0",
         str(source)], check=True, capture_output=True, text=True).stdout.split()}
    beep = starts["audio"] - starts["video"] + 0.5                 # on the container's (the picture's) clock
    data = tmp_path / "d"
    run = cli("ingest", str(source), "--data-dir", str(data), "--json",
              env={"MINIFLIX_QUALITY_MEASURE": "off"})
    assert run.returncode == 0, run.stderr
    [audio_dir] = list((data / "origin" / "videos").glob("*/cmaf/audio"))
    track = tmp_path / "audio.mp4"
    parts = [audio_dir / "init.mp4", *sorted(audio_dir.glob("seg_*.m4s"))]
    track.write_bytes(b"".join(part.read_bytes() for part in parts))
    report = subprocess.run(["ffmpeg", "-v", "info", "-i", str(track), "-af", "silencedetect=n=-30dB:d=0.1",
                             "-f", "null", "-"], check=True, capture_output=True, text=True).stderr
    heard = float(report.split("silence_end: ")[1].split()[0])
    assert abs(heard - beep) < 0.1, f"the beep plays at {heard:.3f} s, the picture's clock says {beep:.3f} s"
