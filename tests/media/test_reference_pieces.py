"""The chunk encodes write the quality measure's reference (issue 19 §1: measuring must not double
the ingest): their pieces, read in order, are frame for frame what the measure's own decode of the
source writes, and score every rung with the same figures; an ingest then never decodes the source
for measuring."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from server.errors import MediaError
from server.media.chunks import first_frame, plan_chunks
from server.media.encode import encode_chunk
from server.media.ffmpeg import find_measuring_tool, find_tools
from server.media.model import MediaInfo, PackagedTitle, Rendition, WorkLayout
from server.media.package import build_concat_list
from server.media.probe import probe, with_keyframes
from server.media.quality import (
    build_reference_args,
    kept,
    measure_title,
    score_rungs,
    scored_frames,
    title_every,
)
from server.media.reference_pieces import holds_frames
from tests.conftest import generate_clip
from tests.jobs.helpers import cli, json_lines

SEGMENT = 1.0
RUNGS = [Rendition("180p", 320, 180, 400, 600), Rendition("90p", 160, 90, 150, 250)]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[MediaInfo, Path]:
    """8 s of moving test picture at 25 fps in one GOP: every chunk after the first decodes from
    the source's only keyframe and drops what comes before it, as long-GOP sources make it do."""
    folder = tmp_path_factory.mktemp("pieces")
    clip = generate_clip(folder / "src.mp4", seconds=8, size="320x180", fps=25, audio=False,
                         extra=["-g", "250", "-crf", "12"])
    return with_keyframes(probe(clip, find_tools()), find_tools()), folder


def encode_with_pieces(info: MediaInfo, work: Path, every: int,
                       rungs: list[Rendition] = RUNGS) -> tuple[list[Path], list[Path]]:
    """Encode the clip chunk by chunk, as an ingest plans them, writing pieces at `every`; (each
    rung's ffconcat list of chunk files, the pieces in order)."""
    assert info.video is not None
    layout = WorkLayout(work)
    chunks = plan_chunks(info.duration, info.video.fps, SEGMENT, 3, keyframes=info.keyframes or ())
    for chunk in chunks:
        encode_chunk(find_tools(), info, chunk, rungs, layout, SEGMENT, "ultrafast", reference_every=every)
    lists = []
    for rung in RUNGS:
        listing = work / f"{rung.name}.ffconcat"
        listing.write_text(build_concat_list(work, [layout.chunk_file(rung.name, c.index) for c in chunks]))
        lists.append(listing)
    pieces = [layout.reference_piece(every, c.index) for c in chunks
              if holds_frames(c, first_frame(c, SEGMENT, info.video.fps), every)]
    return lists, pieces


def frame_hashes(argv_input: list[str]) -> list[str]:
    """The md5 of every frame ffmpeg reads from the input (timestamps left out)."""
    out = subprocess.run(["ffmpeg", "-v", "error", *argv_input, "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if not line.startswith("#")]


@pytest.mark.parametrize("every", [4, 11])
def test_the_pieces_are_the_reference_the_measure_would_decode(
        source: tuple[MediaInfo, Path], tmp_path: Path, every: int) -> None:
    info, _ = source
    assert info.video is not None
    chunks = plan_chunks(info.duration, info.video.fps, SEGMENT, 3)
    assert len(chunks) >= 3
    seams = [first_frame(c, SEGMENT, info.video.fps) for c in chunks[1:]]
    # a kept triple runs across a seam: cut in two by the chunks, it must be joined again
    assert any(kept(s - 1, every) and kept(s, every) for s in seams)
    _, pieces = encode_with_pieces(info, tmp_path, every)
    assert all(p.is_file() for p in pieces) and not list(tmp_path.rglob("*.part"))
    whole = decoded_reference(info, tmp_path, every)
    assert len(whole) > 2 * info.expected_frames // every  # the triples and the lead clones, not the title
    assert read_pieces(tmp_path, pieces) == whole


def decoded_reference(info: MediaInfo, folder: Path, every: int) -> list[str]:
    """The frames of the reference the measure decodes from the source itself (frame md5s)."""
    assert info.video is not None
    decoded = folder / "decoded.nut"
    subprocess.run(build_reference_args("ffmpeg", str(info.path), info.video, info.expected_frames, every,
                                        output=str(decoded)), check=True)
    return frame_hashes(["-i", str(decoded)])


def read_pieces(folder: Path, pieces: list[Path]) -> list[str]:
    """The frames of the pieces read in order as the measure reads them (frame md5s)."""
    listing = folder / "reference.ffconcat"
    listing.write_text(build_concat_list(folder, pieces))
    return frame_hashes(["-i", str(listing)])


def test_on_the_real_samples_the_pieces_hold_the_frames_of_a_whole_title_decode(shared_media: Path,
                                                                              tmp_path: Path) -> None:
    """Every real sample, at the step its ingest would measure at: frame for frame what the measure's
    own decode wrote, seams included (on the variable-rate VP8 sample a chunk once started on the
    picture after the one a whole-title decode shows there: source_cut.BEFORE). Where the file lacks
    a tail its probe promised, the pieces, like the rungs, repeat the last frame (the interlaced
    AVCHD sample: 31 frames against 30 decoded)."""
    checked = []
    for sample in sorted(p for p in shared_media.iterdir() if p.is_file() and p.suffix != ".md"):
        try:
            info = with_keyframes(probe(sample, find_tools()), find_tools())
        except MediaError:
            continue  # refused at probe (the truncated MKV): no ingest, nothing to measure
        if info.video is None:
            continue
        every, folder = title_every(info), tmp_path / sample.stem
        _, pieces = encode_with_pieces(info, folder, every, [Rendition("tiny", 64, 36, 100, 200)])
        ours, whole = read_pieces(folder, pieces), decoded_reference(info, folder, every)
        assert ours[:len(whole)] == whole, sample.name
        assert set(ours[len(whole):]) <= {ours[len(whole) - 1]}, sample.name
        checked.append(sample.name)
    assert len(checked) >= 10, checked


def test_the_pieces_score_every_rung_as_the_decoded_reference_does(
        source: tuple[MediaInfo, Path], tmp_path: Path) -> None:
    info, _ = source
    assert info.video is not None
    every = 11  # a triple across the seam at frame 100
    rungs, pieces = encode_with_pieces(info, tmp_path, every)
    listing = tmp_path / "reference.ffconcat"
    listing.write_text(build_concat_list(tmp_path, pieces))
    args = (find_tools().ffmpeg, find_measuring_tool(), [str(r) for r in rungs], str(info.path), info.video,
            info.expected_frames, every)
    from_pieces = score_rungs(*args, reference=listing)
    decoded = score_rungs(*args)
    frames = scored_frames(info.expected_frames, every)
    assert frames[-1] == info.expected_frames - 1  # the title's last frame, scored without a next one
    assert [[s.n for s in scores] for scores in from_pieces] == [frames] * 2
    assert from_pieces == decoded  # every frame number and figure
    assert from_pieces[0][0].vmaf > from_pieces[1][0].vmaf


def logging_ffmpeg(folder: Path) -> tuple[Path, Path]:
    """The real ffmpeg behind a shim that writes each command line to a file."""
    calls, shim = folder / "argv.txt", folder / "ffmpeg-logged"
    shim.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\nexec "{find_tools().ffmpeg}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return shim, calls


def ingest(clip: Path, data: Path, **env: str) -> dict[str, Any]:
    run = cli("ingest", str(clip), "--data-dir", str(data), "--json", "--segment-seconds", "1", env=env)
    assert run.returncode == 0, run.stderr
    [result] = json_lines(run.stdout)
    assert result["status"] == "published", result["error"]
    return dict(result)


def test_an_ingest_measures_from_its_chunks_pieces_with_the_figures_of_a_decode(
        source: tuple[MediaInfo, Path], tmp_path: Path) -> None:
    """Compared on the same published rungs: two ingests of one clip need not encode it bit for bit
    alike (x264's frame threads), so a second ingest is no yardstick."""
    info, _ = source
    shim, calls = logging_ffmpeg(tmp_path)
    env = {"MINIFLIX_FFMPEG": str(shim), "MINIFLIX_QUALITY_SAMPLE_EVERY": "5", "MINIFLIX_WORKERS": "2"}
    result = ingest(info.path, tmp_path / "d", **env)
    runs = calls.read_text().splitlines()
    assert sum("chunk_" in r and ".nut" in r for r in runs) >= 3  # every chunk wrote its piece
    assert not any("reference.nut" in r for r in runs)  # and the source was not decoded again
    title = tmp_path / "d" / "origin" / Path(result["master"]).parent
    report = json.loads((title / "integrity.json").read_text())
    assert report["quality"]["sample_every"] == 5 and report["quality"]["measured"]
    # the same rungs measured the old way: the source decoded by the measure itself
    packaged = PackagedTitle(title, renditions=result["renditions"])
    decoded = measure_title(info, packaged, SEGMENT, sample_every=5)
    figures = [{k: v for k, v in r.to_dict().items() if k not in ("name", "width", "height")}
               for r in decoded.rungs]
    assert [r["quality"] for r in result["renditions"]] == figures
