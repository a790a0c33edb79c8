"""Chunk encodes: the argv (pure), and real ffmpeg runs checked frame by frame with ffprobe."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import psutil
import pytest

from server.errors import MediaError
from server.media.chunks import keyframes_in_chunk, plan_chunks
from server.media.encode import build_chunk_args, encode_chunk
from server.media.ffmpeg import FFmpegFailed, Tools, find_tools
from server.media.filters import scale_parents
from server.media.ladder import plan_ladder
from server.media.model import Chunk, MediaInfo, Rendition, VideoInfo, WorkLayout
from server.media.probe import probe
from server.media.progress import ProgressUpdate

TOOLS = Tools("/usr/bin/ffmpeg", "/usr/bin/ffprobe", "5.1")
SMALL = (Rendition("180p", 320, 180, 300, 600), Rendition("90p", 160, 90, 120, 240))


def media(**video: Any) -> MediaInfo:
    fields: dict[str, Any] = dict(index=0, codec="h264", width=1920, height=1080, sar=Fraction(1),
                                  rotation=0, fps=Fraction(25), vfr=False, interlaced=False,
                                  pix_fmt="yuv420p", bit_depth=8, full_range=False, hdr=False)
    fields.update(video)
    return MediaInfo(Path("/in/source file.mov"), 1000, 12.0, "mov", VideoInfo(**fields), None)


def value_after(args: list[str], flag: str, nth: int = 0) -> str:
    return [args[i + 1] for i, a in enumerate(args) if a == flag][nth]


# ---- argv, no process -------------------------------------------------------------------------

def test_argv_seeks_before_the_input_and_writes_every_rung_to_a_temp_name(tmp_path: Path) -> None:
    layout = WorkLayout(tmp_path)
    chunk = Chunk(1, 4.0, 4.0, 100)
    args = build_chunk_args(TOOLS, media(), chunk, SMALL, layout, 2.0, "veryfast")
    assert args[0] == "/usr/bin/ffmpeg" and args.count("-i") == 1
    i = args.index("-i")
    assert args[i + 1] == "/in/source file.mov"
    assert value_after(args, "-ss") == "4.000000" and args.index("-ss") < i
    assert value_after(args, "-filter_complex").startswith("[0:0]trim=start=-1.000000:end=4.000000,")
    assert "-noautorotate" not in args          # autorotate turns the picture and drops the matrix
    outputs = [a for a in args if a.endswith(".part")]
    assert outputs == [f"{layout.chunk_file(r.name, 1)}.{os.getpid()}.part" for r in SMALL]
    assert not list(tmp_path.iterdir()), "building the argv must not touch the disk"


def test_argv_decodes_from_the_keyframe_before_the_chunk_and_drops_the_lead(tmp_path: Path) -> None:
    """A TS or MXF seek lands anywhere: the decode starts on the scanned keyframe, ffmpeg drops
    nothing, the filters shift the chunk's start to 0 and keep only the last second before it, for
    the rate filter to pick the picture due at 0 (source_cut.BEFORE)."""
    chunk = Chunk(1, 4.0, 4.0, 100)
    scanned = replace(media(), keyframes=(0.0, 2.5, 5.0))
    args = build_chunk_args(TOOLS, scanned, chunk, SMALL, WorkLayout(tmp_path), 2.0, "veryfast")
    assert args[args.index("-ss") - 1] == "-noaccurate_seek" and value_after(args, "-ss") == "2.500001"
    assert value_after(args, "-filter_complex").startswith(
        "[0:0]setpts=PTS-(1.499999)/TB,trim=start=-1.000000:end=4.000000,")
    timeless = replace(media(), keyframes=())   # the MXF's keyframes have no times: from the start
    args = build_chunk_args(TOOLS, timeless, chunk, SMALL, WorkLayout(tmp_path), 2.0, "veryfast")
    assert value_after(args, "-ss") == "0.000001"
    assert value_after(args, "-filter_complex").startswith("[0:0]setpts=PTS-(3.999999)/TB,trim=")


def test_argv_encodes_each_rung_with_capped_crf_exact_frames_and_grid_keyframes(tmp_path: Path) -> None:
    chunk = Chunk(1, 4.0, 4.0, 100)
    args = build_chunk_args(TOOLS, media(), chunk, SMALL, WorkLayout(tmp_path), 2.0, "faster", threads=1)
    for nth, rung in enumerate(SMALL):
        assert value_after(args, "-map", nth) == f"[v{nth}]"
        assert value_after(args, "-c:v", nth) == "libx264"
        assert value_after(args, "-preset", nth) == "faster"
        assert value_after(args, "-profile:v", nth) == "high"
        assert value_after(args, "-crf", nth) == "23"
        assert value_after(args, "-maxrate", nth) == f"{rung.bitrate_kbps}k"
        assert value_after(args, "-bufsize", nth) == f"{2 * rung.bitrate_kbps}k"
        assert value_after(args, "-frames:v", nth) == "100"
        assert value_after(args, "-force_key_frames", nth) == "expr:eq(n,0)+eq(n,50)"
        assert value_after(args, "-sc_threshold", nth) == "0"
        assert value_after(args, "-f", nth) == "mp4"
    assert args.count("-an") == len(SMALL)
    assert all(value_after(args, "-threads", n) == "1" for n in range(args.count("-threads")))


def test_filter_graph_decodes_once_and_scales_each_rung_from_the_next_larger(tmp_path: Path) -> None:
    graph = value_after(build_chunk_args(TOOLS, media(), Chunk(0, 0, 4, 100), SMALL, WorkLayout(tmp_path),
                                         4.0), "-filter_complex")
    assert graph.startswith("[0:0]setpts=PTS-(-0.000001)/TB,trim=start=-1.000000:end=4.000000,"
                            "fps=fps=25/1:start_time=0,tpad=stop=-1:stop_mode=clone[s0];")
    top = "[s0]scale=320:180:flags=bicubic,setsar=1,format=yuv420p,setparams=range=tv,split=2[v0][s1];"
    assert top in graph
    assert "[s1]scale=160:90:" in graph and graph.endswith("[v1]")
    assert "bwdif" not in graph and "zscale" not in graph


def test_a_rung_no_larger_rung_covers_is_scaled_from_the_source() -> None:
    wide, tall = Rendition("wide", 640, 200, 500, 1000), Rendition("tall", 200, 400, 500, 1000)
    tiny = Rendition("tiny", 100, 100, 100, 200)
    assert scale_parents([tiny, wide, tall]) == [2, None, None]
    assert scale_parents(plan_ladder(media().video)) == [None, 0, 1, 2, 3]  # type: ignore[arg-type]


def test_only_the_source_scale_converts_a_full_range_source(tmp_path: Path) -> None:
    full_range = media(full_range=True, pix_fmt="yuvj420p")
    graph = value_after(build_chunk_args(TOOLS, full_range, Chunk(0, 0, 4, 100), SMALL, WorkLayout(tmp_path),
                                         4.0), "-filter_complex")
    assert graph.count("in_range=pc:out_range=tv") == 1
    assert "[s0]scale=320:180:flags=bicubic:in_range" in graph


def test_filter_graph_normalises_what_probe_found(tmp_path: Path) -> None:
    def graph(**video: Any) -> str:
        args = build_chunk_args(TOOLS, media(**video), Chunk(0, 0, 4, 100), SMALL[:1],
                                WorkLayout(tmp_path), 4.0)
        return value_after(args, "-filter_complex")

    interlaced = graph(interlaced=True, fps=Fraction(30000, 1001))
    assert interlaced.index("bwdif=mode=send_frame") < interlaced.index("fps=fps=30000/1001")
    assert "in_range=pc:out_range=tv" in graph(full_range=True, pix_fmt="yuvj420p")
    hdr = graph(hdr=True, tonemap=True, transfer="arib-std-b67", bit_depth=10)
    assert "zscale=tin=arib-std-b67" in hdr and "tonemap=tonemap=hable" in hdr
    assert hdr.index("fps=") < hdr.index("zscale") < hdr.index("tpad")
    wide_gamut = graph(hdr=True, tonemap=True, transfer="bt2020-10", bit_depth=10)
    assert "zscale=tin=2020_10" in wide_gamut and "tonemap=" not in wide_gamut


def test_an_audio_only_title_has_no_chunk_to_encode(tmp_path: Path) -> None:
    info = MediaInfo(Path("/in/song.mp3"), 10, 3.0, "mp3", None, None)
    with pytest.raises(MediaError, match=r"song\.mp3 has no video stream"):
        build_chunk_args(TOOLS, info, Chunk(0, 0, 3, 0), SMALL, WorkLayout(tmp_path), 4.0)


# ---- real encodes ------------------------------------------------------------------------------

def streams(path: Path) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                          "-show_entries", "stream", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    stream: dict[str, Any] = json.loads(out)["streams"][0]
    return stream


def keyframes(path: Path) -> list[int]:
    """Display-order numbers of the keyframes of a video file."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=pts_time,flags", "-of", "csv=p=0", str(path)],
                         check=True, capture_output=True, text=True).stdout
    packets = sorted((float(p.split(",")[0]), p.split(",")[1]) for p in out.split())
    return [n for n, (_, flags) in enumerate(packets) if "K" in flags]


def test_two_chunks_by_two_rungs_have_exact_frames_and_keyframes_on_the_grid(
        make_clip: Callable[..., Path], tmp_path: Path) -> None:
    info = probe(make_clip(seconds=3, fps=25, audio=False))
    assert info.video is not None
    chunks = plan_chunks(info.duration, info.video.fps, 0.5, 2, min_chunk_seconds=1.5)
    assert len(chunks) == 2
    layout = WorkLayout(tmp_path / "work")
    updates: list[ProgressUpdate] = []
    for chunk in chunks:
        encode_chunk(find_tools(), info, chunk, SMALL, layout, 0.5, "veryfast", on_progress=updates.append)
    for rung in SMALL:
        for chunk in chunks:
            path = layout.chunk_file(rung.name, chunk.index)
            facts = streams(path)
            assert int(facts["nb_read_frames"]) == chunk.frames
            assert (facts["width"], facts["height"], facts["pix_fmt"]) == (rung.width, rung.height, "yuv420p")
            assert facts["profile"] == "High" and float(facts["start_time"]) == 0
            assert keyframes(path) == keyframes_in_chunk(chunk, 0.5, info.video.fps)
        assert sum(int(streams(layout.chunk_file(rung.name, c.index))["nb_read_frames"]) for c in chunks) \
            == info.expected_frames == 75
    assert not list(layout.root.rglob("*.part"))
    assert updates and updates[-1].done


@pytest.mark.parametrize("rate", ["25", "30000/1001"])
def test_no_frame_is_doubled_or_lost_at_a_seam(tmp_path: Path, rate: str) -> None:
    """Frame n of the source has luma 2n; the chunks, played in order, must count 0, 1, 2, … exactly.

    0.5 s segments put seams between source frames (1.5 s is frame 37.5 at 25 fps).
    """
    source = tmp_path / "ramp.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    f"color=black:size=64x64:rate={rate}:duration=3,geq=lum='min(255,N*2)':cb=128:cr=128",
                    "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p",
                    str(source)], check=True)
    info = probe(source)
    assert info.video is not None
    chunks = plan_chunks(info.duration, info.video.fps, 0.5, 2, min_chunk_seconds=1.5)
    layout, rung = WorkLayout(tmp_path / "work"), Rendition("64p", 64, 64, 800, 1600)
    numbers: list[int] = []
    for chunk in chunks:
        encode_chunk(find_tools(), info, chunk, [rung], layout, 0.5, "ultrafast")
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(layout.chunk_file("64p", chunk.index)),
                              "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
                             check=True, capture_output=True).stdout
        numbers += [round(sum(raw[at:at + 4096]) / 4096 / 2) for at in range(0, len(raw), 64 * 64 * 3 // 2)]
    assert len(chunks) == 2
    assert numbers == list(range(info.expected_frames))


def test_a_failed_encode_leaves_no_chunk_file(make_clip: Callable[..., Path], tmp_path: Path) -> None:
    source = make_clip(seconds=1, audio=False)
    info = probe(source)
    source.unlink()                      # the upload vanished between probe and encode
    layout = WorkLayout(tmp_path / "work")
    with pytest.raises(FFmpegFailed, match=r"encode chunk 0 of clip\.mp4 failed"):
        encode_chunk(find_tools(), info, Chunk(0, 0.0, 1.0, 25), SMALL, layout, 1.0, "ultrafast")
    assert [p for p in layout.root.rglob("*") if p.is_file()] == []


def test_a_stopped_encode_is_killed_and_leaves_no_chunk_file(make_clip: Callable[..., Path],
                                                             tmp_path: Path) -> None:
    info = probe(make_clip(seconds=20, size="160x90", audio=False))
    layout = WorkLayout(tmp_path / "work")
    stop = threading.Event()
    stop.set()                           # the user pressed stop before the process could finish
    with pytest.raises(FFmpegFailed) as caught:
        encode_chunk(find_tools(), info, Chunk(0, 0.0, 20.0, 500), SMALL, layout, 4.0, "veryfast", stop=stop)
    assert caught.value.returncode != 0
    assert [p for p in layout.root.rglob("*") if p.is_file()] == []


def encode_first_second(info: MediaInfo, tmp_path: Path, rungs: list[Rendition] | None = None,
                        preset: str = "ultrafast") -> Path:
    """Encode [0, 1 s) of `info` into its lowest planned rung; returns that chunk file."""
    assert info.video is not None
    rung = (rungs or plan_ladder(info.video))[-1]
    chunk = plan_chunks(min(info.duration, 1.0), info.video.fps, 1.0, 1)[0]
    layout = WorkLayout(tmp_path / info.path.stem)
    encode_chunk(find_tools(), info, chunk, [rung], layout, 1.0, preset)
    return layout.chunk_file(rung.name, 0)


def test_the_rotated_iphone_clip_comes_out_upright(shared_media: Path, tmp_path: Path) -> None:
    facts = streams(encode_first_second(probe(shared_media / "iphone_rotated_-90.mov"), tmp_path))
    assert (facts["width"], facts["height"]) == (240, 426)
    assert not any("rotation" in side for side in facts.get("side_data_list", [])), "rotated twice"


def test_rotation_turns_the_picture_the_right_way(tmp_path: Path) -> None:
    """Coded: white left half. Display matrix says turn 90° clockwise, so upright the white is on top."""
    coded, source = tmp_path / "coded.mp4", tmp_path / "turned.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "color=black:size=160x90:rate=10:duration=1,drawbox=x=0:y=0:w=80:h=90:color=white:t=fill",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(coded)], check=True)
    # the same display matrix as the iPhone sample (ffprobe: rotation=-90)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(coded), "-c", "copy", "-metadata:s:v:0", "rotate=270",
                    str(source)], check=True)
    info = probe(source)
    assert info.video is not None and info.video.rotation == 90
    out = encode_first_second(info, tmp_path, [Rendition("90p", 90, 160, 200, 400)])
    gray = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), "-frames:v", "1", "-f", "rawvideo",
                           "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
    assert len(gray) == 90 * 160
    top, bottom = gray[: 90 * 70], gray[90 * 90:]
    assert sum(top) / len(top) > 200 and sum(bottom) / len(bottom) < 50


def test_the_anamorphic_mxf_comes_out_with_square_pixels(shared_media: Path, tmp_path: Path) -> None:
    info = probe(shared_media / "mpeg2_pal_anamorphic.mxf")
    assert info.video is not None
    facts = streams(encode_first_second(info, tmp_path, plan_ladder(info.video)[:1]))
    assert (facts["width"], facts["height"]) == (640, 480)
    assert facts.get("sample_aspect_ratio", "1:1") == "1:1"


def test_ten_bit_hevc_comes_out_8_bit_high_profile(shared_media: Path, tmp_path: Path) -> None:
    # ultrafast would give Constrained Baseline; the pipeline's presets give High (never High 10)
    facts = streams(encode_first_second(probe(shared_media / "hevc_main10_10bit.ts"), tmp_path,
                                        preset="veryfast"))
    assert (facts["pix_fmt"], facts["profile"], int(facts["nb_read_frames"])) == ("yuv420p", "High", 30)


def test_full_range_mjpeg_comes_out_limited_range(shared_media: Path, tmp_path: Path) -> None:
    facts = streams(encode_first_second(probe(shared_media / "mjpeg_pcm_u8.mov"), tmp_path))
    assert facts["pix_fmt"] == "yuv420p" and facts.get("color_range") != "pc"


def test_interlaced_avchd_comes_out_progressive_at_the_frame_rate(shared_media: Path, tmp_path: Path) -> None:
    info = probe(shared_media / "avchd_1080i_interlaced_ac3.mts")
    facts = streams(encode_first_second(info, tmp_path))
    assert int(facts["nb_read_frames"]) == 30 and facts.get("field_order", "progressive") == "progressive"


def test_hdr_comes_out_sdr_bt709(make_clip: Callable[..., Path], tmp_path: Path) -> None:
    info = probe(make_clip("pq.mp4", seconds=1, audio=False, extra=[
        "-pix_fmt", "yuv420p10le", "-color_trc", "smpte2084", "-color_primaries", "bt2020",
        "-colorspace", "bt2020nc"]))
    facts = streams(encode_first_second(info, tmp_path))
    assert (facts["pix_fmt"], facts.get("color_transfer"), facts.get("color_primaries")) == \
        ("yuv420p", "bt709", "bt709")


def psnr(rung_file: Path, source: Path, rendition: Rendition, fps: Fraction, frames: int) -> float:
    """Mean PSNR (dB) of a rung against the source scaled straight to the rung with Lanczos."""
    graph = (f"[1:v]fps={fps.numerator}/{fps.denominator},scale={rendition.width}:{rendition.height}:"
             "flags=lanczos:out_range=tv,format=yuv420p[ref];[0:v][ref]psnr")
    log = subprocess.run(["ffmpeg", "-hide_banner", "-i", str(rung_file), "-i", str(source),
                          "-filter_complex", graph, "-frames:v", str(frames), "-f", "null", "-"],
                         check=True, capture_output=True, text=True).stderr
    return float(log.rsplit("average:", 1)[1].split()[0])


@pytest.mark.parametrize("name", ["bbb_720p_aac_5.1.mp4", "mjpeg_pcm_u8.mov"])
def test_every_rung_of_the_cascade_looks_like_the_source_scaled_directly(
        shared_media: Path, tmp_path: Path, name: str) -> None:
    """Each rung is scaled from the next larger one; none may drift (range, shift, blur) from a
    direct scale of the source. Measured 36-40 dB; a range converted twice gives far less."""
    info = probe(shared_media / name)
    assert info.video is not None
    rungs = plan_ladder(info.video)
    chunk = plan_chunks(min(info.duration, 1.0), info.video.fps, 1.0, 1)[0]
    layout = WorkLayout(tmp_path)
    encode_chunk(find_tools(), info, chunk, rungs, layout, 1.0, "veryfast")
    for rung in rungs:
        quality = psnr(layout.chunk_file(rung.name, 0), info.path, rung, info.video.fps, chunk.frames)
        assert quality > 33, f"{name} {rung.name}: {quality:.1f} dB"


def test_odd_sized_source_comes_out_even(make_clip: Callable[..., Path], tmp_path: Path) -> None:
    info = probe(make_clip("odd.mp4", seconds=1, audio=False, extra=["-vf", "scale=161:91", "-pix_fmt",
                                                                     "yuv444p"]))
    facts = streams(encode_first_second(info, tmp_path))
    assert (facts["width"], facts["height"], facts["pix_fmt"]) == (160, 90, "yuv420p")


@pytest.mark.parametrize(("threads", "side_by_side", "policy"),
                         [(1, 2, os.SCHED_OTHER), (2, 2, os.SCHED_IDLE), (2, 1, os.SCHED_OTHER)])
def test_a_multi_threaded_chunk_encodes_on_spare_cores_only(make_clip: Callable[..., Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, threads: int,
                                                             side_by_side: int, policy: int) -> None:
    """A tail chunk's frame threads must not take the core of a single-threaded chunk beside it;
    with one chunk at a time (`chunks_side_by_side` 1) none runs beside it, and the chunk keeps the
    encodes' usual priority instead of running only on idle cores."""
    monkeypatch.setenv("MINIFLIX_CHUNKS_SIDE_BY_SIDE", str(side_by_side))
    info = probe(make_clip(seconds=4, fps=25, audio=False))
    assert info.video is not None
    seen: set[int] = set()

    def look(_update: ProgressUpdate) -> None:  # called while the chunk's ffmpeg runs
        for child in psutil.Process().children():   # only the encode's: other tests' (a JVM) may live on
            with contextlib.suppress(psutil.Error, OSError):
                if child.name().startswith("ffmpeg"):
                    seen.add(os.sched_getscheduler(child.pid))

    encode_chunk(find_tools(), info, Chunk(0, 0.0, 4.0, 100), SMALL, WorkLayout(tmp_path), 1.0, "veryfast",
                 on_progress=look, threads=threads)
    assert seen == {policy}


# ---- threaded tail chunks: memory (issue 19 §4) -------------------------------------------------

def test_a_threaded_x264_rung_beside_other_chunks_uses_slice_threads_and_a_lone_chunk_frame_threads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frame threads keep a frame per thread in flight in every encoder of the ladder; slices do not,
    but cost bits (16.5% on the slides clip): only chunks side by side need their memory back."""
    av1 = Rendition("180p-av1", 320, 180, 180, 360, codec="av1")

    def argv(threads: int) -> list[str]:
        return build_chunk_args(TOOLS, media(), Chunk(0, 0, 4, 100), (*SMALL, av1), WorkLayout(tmp_path),
                                2.0, "veryfast", threads=threads)

    monkeypatch.setenv("MINIFLIX_CHUNKS_SIDE_BY_SIDE", "1")      # the default: one chunk at a time
    assert "-thread_type" not in argv(1) and "-thread_type" not in argv(2)
    monkeypatch.setenv("MINIFLIX_CHUNKS_SIDE_BY_SIDE", "2")
    two = argv(2)
    assert "-thread_type" not in argv(1)
    per_rung = " ".join(two[two.index("-map"):]).split("-map ")[1:]
    assert ["-thread_type slice" in r for r in per_rung] == [True, True, False]  # x264 only


def test_a_lone_chunk_in_frame_threads_spends_no_more_bits_than_one_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A still picture at a few kbit/s, where two slices cost the most (16.5% on the slides clip)."""
    monkeypatch.setenv("MINIFLIX_CHUNKS_SIDE_BY_SIDE", "1")
    source = tmp_path / "slide.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "smptebars=size=640x360:rate=25:duration=3",
                    "-pix_fmt", "yuv420p", str(source)], check=True)
    info = probe(source)
    rung = Rendition("360p", 640, 360, 800, 1600)
    sizes = []
    for threads in (1, 2):
        layout = WorkLayout(tmp_path / str(threads))
        encode_chunk(find_tools(), info, Chunk(0, 0, 3, 75), [rung], layout, 1.0, "veryfast", threads=threads)
        sizes.append(layout.chunk_file("360p", 0).stat().st_size)
    assert sizes[1] <= sizes[0] * 1.02, sizes


PEAK_SCRIPT = """
import json, resource, sys
from pathlib import Path
from server.media.encode import encode_chunk
from server.media.ffmpeg import find_tools
from server.media.ladder import plan_ladder
from server.media.model import Chunk, WorkLayout
from server.media.probe import probe
info = probe(Path(sys.argv[1]))
layout = WorkLayout(Path(sys.argv[2]))
encode_chunk(find_tools(), info, Chunk(0, 0.0, 1.0, 30), plan_ladder(info.video), layout, 1.0, "veryfast",
             threads=int(sys.argv[3]))
print(json.dumps(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))
"""


@pytest.mark.slow
def test_a_threaded_tail_chunk_of_the_1080p_ladder_holds_about_what_a_single_threaded_one_does(
        make_clip: Callable[..., Path], tmp_path: Path) -> None:
    """With chunks side by side (`chunks_side_by_side` = 2) the last two run threaded together: with
    frame threads each held ~29% more than a single-threaded chunk (467 against 362 MB), the
    ingest's memory peak. Peak resident memory (ru_maxrss) of the chunk's ffmpeg: independent of load."""
    source = make_clip("hd.mp4", seconds=1, size="1920x1080", fps=30, audio=False)
    peaks = {}
    for threads in (1, 2):
        run = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(source), str(tmp_path / str(threads)),
                              str(threads)], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                             text=True, check=False, env={**os.environ, "MINIFLIX_CHUNKS_SIDE_BY_SIDE": "2"})
        assert run.returncode == 0, run.stderr[-2000:]
        peaks[threads] = json.loads(run.stdout.splitlines()[-1])
    assert peaks[2] < peaks[1] * 1.12, peaks
