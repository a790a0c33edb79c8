"""The per-title analysis on real clips (real ffmpeg, real libvmaf) and a real ingest with it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from server import config
from server.errors import InvalidRequest
from server.media import per_title
from server.media.convex_hull import RatePoint
from server.media.ffmpeg import find_tools
from server.media.ladder import plan_ladder
from server.media.per_title import (
    CRFS,
    Analysis,
    analyse,
    build_probe_encode_args,
    build_vmaf_args,
    plan_rungs,
    renditions_from,
    title_bits,
)
from server.media.probe import probe
from server.media.quality import build_measure_args
from tests.jobs.helpers import cli, events, json_lines

# A presenter: a still studio backdrop, a small moving patch where the face would be, a little grain.
TALKING_HEAD = ("smptehdbars=size=640x360:rate=25[bg];testsrc2=size=120x120:rate=25[face];"
                "[bg][face]overlay=260:100:shortest=1,noise=alls=2:allf=t")
# Sport: the whole picture moves (a zoom) under heavy grain.
SPORT = "mandelbrot=size=640x360:rate=25,noise=alls=14:allf=t"


def clip(path: Path, graph: str, seconds: float = 4.0) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-filter_complex", f"{graph},trim=duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv420p",
                    "-an", str(path)], check=True)
    return path


def analysis_of(path: Path) -> Analysis:
    return analyse(probe(path, find_tools()), workers=2)


@pytest.fixture(scope="module")
def analyses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Analysis]:
    folder = tmp_path_factory.mktemp("per_title")
    return {name: analysis_of(clip(folder / f"{name}.mp4", graph))
            for name, graph in (("talking_head", TALKING_HEAD), ("sport", SPORT))}


def ladder_kbps(analysis: Analysis) -> float:
    return sum(p.kbps for p in analysis.chosen)


def test_a_talking_head_gets_fewer_cheaper_rungs_than_sport(analyses: dict[str, Analysis]) -> None:
    talk, sport = analyses["talking_head"], analyses["sport"]
    assert len(talk.chosen) < len(sport.chosen)
    assert ladder_kbps(talk) < ladder_kbps(sport)
    assert talk.chosen[0].kbps < sport.chosen[0].kbps
    assert talk.chosen[0].vmaf > sport.chosen[0].vmaf  # and it still looks better at the top


def test_the_analysis_measures_every_fitting_resolution_never_above_the_source(
        analyses: dict[str, Analysis]) -> None:
    for analysis in analyses.values():
        assert {p.name for p in analysis.points} == {"360p", "240p"}
        assert all(p.width <= 640 and p.height <= 360 for p in analysis.points)
        assert len(analysis.points) == 2 * len(CRFS)                         # resolutions x CRFs
        assert all(0 <= p.vmaf <= 100 and p.kbps > 0 for p in analysis.points)
        by_res = {n: sorted((p for p in analysis.points if p.name == n), key=lambda p: p.crf)
                  for n in ("360p", "240p")}
        for curve in by_res.values():   # a lower CRF costs more bits and looks better
            assert [p.kbps for p in curve] == sorted((p.kbps for p in curve), reverse=True)
            assert curve[0].vmaf > curve[-1].vmaf
        assert analysis.chosen and all(c.name in ("360p", "240p") for c in analysis.chosen)


def test_a_short_title_is_analysed_on_two_windows_for_less_cpu_than_four(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The analysis is a fixed cost per title: 1.7-11.4x one ffmpeg encoding the fixed ladder on the
    # 5-20 s titles of bench/per_title.py. Under 30 s it now cuts and encodes two windows (each scored
    # one frame in 3) instead of four, for about 0.6x the CPU and the same rungs on those titles.
    info = probe(clip(tmp_path / "talk.mp4", TALKING_HEAD, seconds=8.0), find_tools())
    short = analyse(info, workers=1)
    monkeypatch.setattr(per_title, "window_count", lambda duration: 4)
    four = analyse(info, workers=1)
    assert [len(short.windows), len(four.windows)] == [2, 4]
    assert short.cpu_seconds < 0.8 * four.cpu_seconds
    assert len(short.points) == len(four.points) == 2 * len(CRFS)
    assert [p.name for p in short.chosen] == [p.name for p in four.chosen]
    for a, b in zip(short.points, four.points, strict=True):      # the same points, read alike
        assert (a.name, a.crf) == (b.name, b.crf) and abs(a.vmaf - b.vmaf) < 2.0


def test_the_analysis_scores_vmaf_alone() -> None:
    video = probe_video_stub()
    args = build_vmaf_args("ffmpeg", [Path("a.h264")], video, 50, [Path("a.json")], 16)
    full = build_measure_args("ffmpeg", ["a.h264"], video, 50, [Path("a.json")], 16)
    graph, full_graph = args[args.index("-filter_complex") + 1], full[full.index("-filter_complex") + 1]
    assert "psnr" in full_graph and "psnr" not in graph and "libvmaf" in graph


def test_one_ffmpeg_encodes_a_window_at_every_size_and_crf_from_one_decode() -> None:
    outs = [Path(f"{size}_{crf}.h264") for size in ("360p", "240p") for crf in (20, 30)]
    args = build_probe_encode_args("ffmpeg", Path("w.mkv"), [(640, 360), (426, 240)], (20, 30), "veryfast",
                                   outs)
    graph = args[args.index("-filter_complex") + 1]
    assert args.count("-i") == 1 and graph.count("scale=") == 2     # one decode, each size scaled once
    assert "scale=640:360" in graph.split(";")[1] and "scale=426:240" in graph.split(";")[2]
    maps = [args[i + 1] for i, a in enumerate(args) if a == "-map"]
    crfs = [args[i + 1] for i, a in enumerate(args) if a == "-crf"]
    assert maps == ["[c0_0]", "[c0_1]", "[c1_0]", "[c1_1]"] and crfs == ["20", "30", "20", "30"]
    assert [a for a in args if a.endswith(".h264")] == [str(o) for o in outs]   # size-major, as asked


def static_encode(source: Path, out: Path, start: int, seconds: int, gop: int) -> bytes:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(start), "-t", str(seconds), "-i", str(source),
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-g", str(gop), "-keyint_min",
                    str(gop), "-sc_threshold", "0", "-threads", "1", "-f", "h264", str(out)], check=True)
    return out.read_bytes()


def test_short_windows_predict_the_bits_of_an_encode_with_one_keyframe_a_segment(tmp_path: Path) -> None:
    source = clip(tmp_path / "bars.mp4", "smptehdbars=size=640x360:rate=25,noise=alls=1:allf=t")
    title = len(static_encode(source, tmp_path / "title.h264", 0, 4, 100)) * 8   # one keyframe in 4 s
    windows = [static_encode(source, tmp_path / f"w{s}.h264", s, 1, 25) for s in range(4)]  # each on one
    assert sum(len(w) * 8 for w in windows) > 2 * title                  # counted as they are: far too dear
    assert abs(sum(title_bits(w, 25, 1 / 4) for w in windows) - title) < 0.1 * title


def probe_video_stub() -> Any:
    from fractions import Fraction

    from server.media.model import VideoInfo
    return VideoInfo(0, "h264", 640, 360, Fraction(1), 0, Fraction(25), False, False, "yuv420p", 8, False,
                     False)


def test_a_bad_ladder_setting_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIFLIX_LADDER", "widest")
    with pytest.raises(InvalidRequest, match="'widest' is not a ladder") as caught:
        config.get("ladder")
    assert "per-title" in str(caught.value)
    monkeypatch.setenv("MINIFLIX_LADDER", "Per_Title")
    assert config.get("ladder") == "per-title"


def test_the_ingest_command_refuses_a_bad_ladder(tmp_path: Path) -> None:
    source = clip(tmp_path / "c.mp4", TALKING_HEAD, seconds=1)
    run = cli("ingest", str(source), "--data-dir", str(tmp_path / "d"), "--ladder", "wide")
    assert run.returncode == 2 and "'wide' is not a ladder" in run.stderr
    run = cli("ingest", str(source), "--data-dir", str(tmp_path / "d"), env={"MINIFLIX_LADDER": "wide"})
    assert run.returncode == 2 and "use `fixed` or `per-title`" in run.stderr
    assert not (tmp_path / "d" / "origin" / "videos").exists() or not any((tmp_path / "d" / "origin" /
                                                                            "videos").iterdir())


def test_an_ingest_with_the_per_title_ladder_publishes_it_and_reports_why(tmp_path: Path) -> None:
    source = clip(tmp_path / "talk.mp4", TALKING_HEAD)
    data = tmp_path / "d"
    run = cli("ingest", str(source), "--data-dir", str(data), "--json", "--ladder", "per-title",
              "--segment-seconds", "2", env={"MINIFLIX_QUALITY_MEASURE": "off"})
    assert run.returncode == 0, run.stderr
    [result] = json_lines(run.stdout)
    assert result["status"] == "published", result["error"]
    report: dict[str, Any] = json.loads((data / "origin" / result["integrity"]).read_text())
    analysis = report["per_title"]
    assert report["ok"] and analysis["points"] and analysis["hull"] and analysis["seconds"] > 0
    rungs = renditions_from([RatePoint(**c) for c in analysis["chosen"]])
    chosen = [(r.name, r.width, r.height) for r in rungs]
    published = [(r["name"], r["width"], r["height"]) for r in result["renditions"]]
    assert published == chosen                           # the title carries the rungs the hull chose
    [planned] = [e for e in events(data, "videos") if e["type"] == "ladder_planned"]
    assert planned["ladder"] == "per-title" and planned["per_title"]["chosen"] == analysis["chosen"]
    assert [r["frames"] for r in result["renditions"]] == [100] * len(chosen)  # verified whole


def test_without_a_libvmaf_ffmpeg_a_per_title_ingest_gets_the_fixed_ladder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIFLIX_FFMPEG_VMAF", "/usr/bin/ffmpeg")   # Debian's: no libvmaf
    info = probe(clip(tmp_path / "c.mp4", TALKING_HEAD, seconds=1), find_tools())
    rungs, analysis = plan_rungs(info, "per-title", tmp_path / "cache.json", workers=1, preset="veryfast")
    assert rungs == plan_ladder(info.video) and analysis is None
