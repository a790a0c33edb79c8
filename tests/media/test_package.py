"""Packaging with real ffmpeg: encoder-shaped chunks in, CMAF + HLS + DASH out, read back by real parsers
and decoded end to end by ffmpeg."""

from __future__ import annotations

import json
import subprocess
import threading
from fractions import Fraction
from pathlib import Path

import m3u8
import pytest
from mpegdash.nodes import SegmentTemplate
from mpegdash.parser import MPEGDASHParser

from server.errors import Cancelled, InvalidRequest, JobError
from server.media import package
from server.media.cmaf import peak_bitrate
from server.media.ffmpeg import find_tools
from server.media.model import Chunk, PackagedTitle, Rendition
from server.media.package import (
    CutTrack,
    build_concat_list,
    build_cut_args,
    cut_interval,
    package_title,
    poster_rung,
    poster_source,
)
from tests.media.packaging_inputs import FPS, RUNGS, SEGMENT, Title, copy_title, make_title
from tests.media.test_thumbs import image_size


@pytest.fixture(scope="module")
def title(tmp_path_factory: pytest.TempPathFactory) -> Title:
    return make_title(tmp_path_factory.mktemp("work"))


@pytest.fixture(scope="module")
def packaged(title: Title, tmp_path_factory: pytest.TempPathFactory) -> PackagedTitle:
    return title.package(tmp_path_factory.mktemp("staging"))


def ffprobe_json(path: Path, *args: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, str(path)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def segment_rates(playlist: m3u8.M3U8, directory: Path) -> list[float]:
    """Bit rate of every full-length segment (duration ≥ half the target), measured on disk."""
    return [(directory / s.uri).stat().st_size * 8 / s.duration for s in playlist.segments
            if s.duration >= 0.5 * SEGMENT]


def test_one_ffmpeg_cuts_every_track_on_the_grid_and_keeps_percent_signs_literal(tmp_path: Path) -> None:
    out = tmp_path / "100%"
    video = CutTrack(tmp_path / "720p.ffconcat", "v", out / "720p", cut_interval(4.0, Fraction(25)))
    audio = CutTrack(tmp_path / "audio.m4a", "a", out / "audio", 4.0)
    args = build_cut_args(find_tools(), [video, audio])
    assert [args[i + 1] for i, a in enumerate(args) if a == "-i"] == [str(video.source), str(audio.source)]
    assert [args[i + 1] for i, a in enumerate(args) if a == "-map"] == ["0:v:0", "1:a:0"]
    assert [args[i + 1] for i, a in enumerate(args) if a == "-hls_segment_type"] == ["fmp4", "fmp4"]
    # the video half a frame early (see cut_interval), the audio on the grid itself
    assert [args[i + 1] for i, a in enumerate(args) if a == "-hls_time"] == ["3.980000", "4.000000"]
    patterns = [args[i + 1] for i, a in enumerate(args) if a == "-hls_segment_filename"]
    assert patterns[0].endswith("100%%/720p/seg_%05d.m4s")
    assert patterns[1].endswith("100%%/audio/seg_%05d.m4s")
    assert args.count("-avoid_negative_ts") == 2 and "-xerror" in args


def test_the_chunk_list_names_chunks_relative_to_itself_so_ffmpeg_reads_it_as_is(tmp_path: Path) -> None:
    files = [tmp_path / "chunks" / "720p" / f"chunk_{i:05d}.mp4" for i in range(2)]
    assert build_concat_list(tmp_path, files) == ("ffconcat version 1.0\nfile chunks/720p/chunk_00000.mp4\n"
                                                  "file chunks/720p/chunk_00001.mp4\n")
    with pytest.raises(InvalidRequest, match="it's"):  # the demuxer's safe mode would refuse it
        build_concat_list(tmp_path, [tmp_path / "it's" / "chunk_00000.mp4"])


def test_the_poster_comes_from_the_chunk_that_holds_a_third_of_the_title() -> None:
    chunks = [Chunk(0, 0.0, 8.0, 200), Chunk(1, 8.0, 12.0, 300), Chunk(2, 20.0, 10.0, 250)]
    assert poster_source(chunks, 30.0) == (chunks[1], 2.0)
    assert poster_source(chunks, 60.0) == (chunks[2], 0.0)
    assert poster_source(chunks[:1], 6.0) == (chunks[0], 2.0)


@pytest.mark.parametrize("sizes, expected", [
    ([(1920, 1080), (1280, 720), (854, 480)], (1280, 720)),   # capped at 720p, like the big sites
    ([(1080, 1920), (720, 1280), (480, 854)], (720, 1280)),   # portrait: the same pixel budget
    ([(854, 480), (640, 360)], (854, 480)),                   # a smaller title: its top rung
    ([(3840, 2160), (2560, 1440)], (2560, 1440)),             # nothing within the cap: the smallest
])
def test_the_poster_comes_from_the_largest_rung_within_720p(sizes: list[tuple[int, int]],
                                                            expected: tuple[int, int]) -> None:
    rungs = [Rendition(f"{h}p", w, h, 1000, 2000) for w, h in sizes]
    chosen = poster_rung(rungs)
    assert (chosen.width, chosen.height) == expected


def test_peak_bitrate_follows_rfc8216_windows() -> None:
    # a 4 s target: a lone 0.5 s tail (4.8 Mbit/s) is too short to count on its own, but it counts
    # together with the segment before it (4.5 s, 700 kB)
    assert peak_bitrate([4.0, 4.0, 0.5], [500_000, 400_000, 300_000], 4.0) == 1_244_445
    assert peak_bitrate([2.0, 2.0], [100_000, 900_000], 4.0) == 3_600_000


def test_writes_the_cmaf_layout_for_every_rung_and_the_audio(packaged: PackagedTitle) -> None:
    root = packaged.root
    for track in ["320p", "160p", "audio"]:
        assert (root / "cmaf" / track / "init.mp4").is_file()
        assert sorted(p.name for p in (root / "cmaf" / track).glob("seg_*.m4s")) == [
            f"seg_{i:05d}.m4s" for i in range(1, 5)]
    assert packaged.renditions[0] | {"bandwidth": 0} == {"name": "320p", "width": 320, "height": 180,
                                                          "bandwidth": 0, "frames": 70,
                                                          "codec": packaged.renditions[0]["codec"]}
    assert packaged.renditions[0]["codec"].startswith("avc1.")
    assert packaged.audio == {"codec": "mp4a.40.2", "channels": 2}
    assert (packaged.poster, packaged.sprite_vtt) == ("thumbs/poster.jpg", "thumbs/thumbs.vtt")


def test_master_playlist_is_v7_with_an_audio_group_and_measured_attributes(packaged: PackagedTitle) -> None:
    master = m3u8.load(str(packaged.root / "master.m3u8"))
    assert master.version == 7 and master.is_independent_segments
    (audio,) = master.media
    assert (audio.type, audio.uri, audio.language) == ("AUDIO", "cmaf/audio/playlist.m3u8", "eng")
    assert [p.uri for p in master.playlists] == ["cmaf/320p/playlist.m3u8", "cmaf/160p/playlist.m3u8"]
    audio_peak = max(segment_rates(m3u8.load(str(packaged.root / audio.uri)), packaged.root / "cmaf/audio"))
    for variant, rung in zip(master.playlists, RUNGS, strict=True):
        info = variant.stream_info
        media = m3u8.load(str(packaged.root / variant.uri))
        video_peak = max(segment_rates(media, packaged.root / "cmaf" / rung.name))
        assert info.bandwidth >= video_peak + audio_peak
        assert info.average_bandwidth <= info.bandwidth
        assert info.resolution == (rung.width, rung.height) and info.frame_rate == 25.0
        assert info.audio == audio.group_id


def test_codecs_attribute_matches_the_encoded_profile_and_level(packaged: PackagedTitle) -> None:
    master = m3u8.load(str(packaged.root / "master.m3u8"))
    for variant in master.playlists:
        video_codec, audio_codec = variant.stream_info.codecs.split(",")
        stream = ffprobe_json(packaged.root / variant.uri, "-show_streams")["streams"][0]
        assert video_codec.startswith("avc1.") and int(video_codec[-2:], 16) == stream["level"]
        assert audio_codec == "mp4a.40.2"


def test_media_playlists_list_existing_segments_with_true_durations(packaged: PackagedTitle) -> None:
    for rung in RUNGS:
        directory = packaged.root / "cmaf" / rung.name
        media = m3u8.load(str(directory / "playlist.m3u8"))
        assert media.version == 7 and media.is_endlist and media.playlist_type == "vod"
        assert media.segment_map[0].uri == "init.mp4"
        assert [s.duration for s in media.segments] == pytest.approx([0.8, 0.8, 0.8, 0.4])
        assert all((directory / s.uri).is_file() for s in media.segments)
        assert all(round(s.duration) <= media.target_duration for s in media.segments)


def test_mpd_references_the_same_segment_files_as_hls(packaged: PackagedTitle) -> None:
    mpd = MPEGDASHParser.parse(str(packaged.root / "manifest.mpd"))
    assert mpd.type == "static"
    video_set, audio_set = mpd.periods[0].adaptation_sets
    assert [r.id for r in video_set.representations] == ["320p", "160p"]
    assert (audio_set.content_type, audio_set.lang) == ("audio", "eng")
    for rep in [*video_set.representations, *audio_set.representations]:
        (template,) = rep.segment_templates
        count = sum(1 + (s.r or 0) for s in template.segment_timelines[0].Ss)
        files = [template.media.replace("$Number%05d$", f"{n:05d}") for n in range(1, count + 1)]
        hls = m3u8.load(str(packaged.root / "cmaf" / rep.id / "playlist.m3u8"))
        assert files == [f"cmaf/{rep.id}/{s.uri}" for s in hls.segments]
        assert template.initialization == f"cmaf/{rep.id}/init.mp4"


def test_every_variant_decodes_through_the_master_playlist_with_every_frame(packaged: PackagedTitle) -> None:
    info = ffprobe_json(packaged.root / "master.m3u8", "-count_frames", "-show_entries",
                        "stream=codec_type,width,nb_read_frames")
    frames = {s["width"]: int(s["nb_read_frames"]) for s in info["streams"] if s["codec_type"] == "video"}
    assert frames == {320: 70, 160: 70}
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert audio and int(audio[0]["nb_read_frames"]) >= 131  # 2.8 s of 1024-sample AAC frames


def test_the_mpd_decodes_end_to_end(packaged: PackagedTitle) -> None:
    info = ffprobe_json(packaged.root / "manifest.mpd", "-count_frames", "-show_entries",
                        "stream=codec_type,width,nb_read_frames")
    frames = {s.get("width"): int(s["nb_read_frames"]) for s in info["streams"] if s["codec_type"] == "video"}
    assert frames == {320: 70, 160: 70}
    assert any(s["codec_type"] == "audio" and int(s["nb_read_frames"]) > 0 for s in info["streams"])


def test_all_uris_are_relative_to_the_title(packaged: PackagedTitle) -> None:
    master = m3u8.load(str(packaged.root / "master.m3u8"))
    uris = [p.uri for p in master.playlists] + [m.uri for m in master.media]
    for rep in MPEGDASHParser.parse(str(packaged.root / "manifest.mpd")).periods[0].adaptation_sets:
        templates = [t for r in rep.representations for t in r.segment_templates]
        uris += [u for t in templates for u in (t.media, t.initialization)]
    assert len(uris) == 9
    assert all(not u.startswith("/") and ":" not in u and ".." not in u for u in uris), uris


def test_audio_only_title_gets_an_audio_variant_and_a_waveform_poster(tmp_path: Path) -> None:
    title = make_title(tmp_path / "work", video=False)
    packaged = title.package(tmp_path / "out")
    master = m3u8.load(str(packaged.root / "master.m3u8"))
    (variant,) = master.playlists
    assert (variant.uri, variant.stream_info.codecs) == ("cmaf/audio/playlist.m3u8", "mp4a.40.2")
    assert packaged.renditions == [] and packaged.audio == {"codec": "mp4a.40.2", "channels": 2}
    assert packaged.poster == "thumbs/poster.jpg" and packaged.sprite_vtt is None
    (audio_set,) = MPEGDASHParser.parse(str(packaged.root / "manifest.mpd")).periods[0].adaptation_sets
    assert audio_set.content_type == "audio"
    decoded = ffprobe_json(packaged.root / "master.m3u8", "-count_frames", "-show_entries",
                           "stream=codec_type,nb_read_frames")["streams"]
    assert decoded[0]["codec_type"] == "audio" and int(decoded[0]["nb_read_frames"]) >= 131


def test_a_missing_chunk_is_refused_naming_the_file(title: Title, tmp_path: Path) -> None:
    broken = copy_title(title, tmp_path / "work")
    missing = broken.layout.chunk_file("160p", 1)
    missing.unlink()
    with pytest.raises(JobError) as err:
        broken.package(tmp_path / "out")
    assert str(missing) in err.value.message and "chunk 1 of 160p" in err.value.message
    assert not (tmp_path / "out" / "cmaf").exists()


def test_a_corrupt_chunk_fails_with_ffmpegs_words_and_leaves_the_staging_dir_empty(title: Title,
                                                                                  tmp_path: Path) -> None:
    broken = copy_title(title, tmp_path / "work")
    broken.layout.chunk_file("160p", 2).write_bytes(b"\x00\x00\x00\x08junk" * 100)
    out = tmp_path / "out"
    with pytest.raises(JobError, match="cutting the tracks into CMAF segments failed") as failure:
        broken.package(out)
    assert "chunks/160p/chunk_00002.mp4" in failure.value.message  # ffmpeg's words name the bad chunk
    assert list(out.iterdir()) == []


def test_a_work_dir_with_quotes_spaces_and_percent_signs_packages_whole(title: Title, tmp_path: Path) -> None:
    """The chunk lists name chunks relative to the work dir, so its own name never reaches the demuxer."""
    odd = copy_title(title, tmp_path / "it's 100% mine")
    packaged = odd.package(tmp_path / "out")
    assert [r["frames"] for r in packaged.renditions] == [70, 70]
    assert (tmp_path / "out" / "thumbs" / "poster.jpg").stat().st_size > 0


def test_the_packaged_poster_keeps_within_the_size_cap(title: Title, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(package, "POSTER_MAX_PIXELS", 160 * 90)  # this title's rungs: 320x180, 160x90
    title.package(tmp_path / "out")
    assert image_size(tmp_path / "out" / "thumbs" / "poster.jpg") == (160, 90)


def test_work_alongside_sees_the_cut_title_and_its_failure_discards_the_attempt(title: Title,
                                                                                tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def check(packaged: PackagedTitle) -> None:
        seen.append(sorted(p.name for p in packaged.root.iterdir()))
        raise Cancelled("stopped while checking")

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(Cancelled):
        package_title(title.tools, title.layout, title.renditions, title.chunks, FPS, SEGMENT, title.audio,
                      out, alongside=check)
    assert {"cmaf", "master.m3u8", "manifest.mpd"} <= set(seen[0])
    assert list(out.iterdir()) == []


def test_packaging_again_over_a_killed_attempt_replaces_its_leftovers(title: Title, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "cmaf" / "160p").mkdir(parents=True)
    (out / "cmaf" / "160p" / "seg_00009.m4s").write_bytes(b"half-written")
    packaged = title.package(out)
    segments = sorted(p.name for p in (out / "cmaf" / "160p").glob("seg_*"))
    assert segments == [f"seg_{i:05d}.m4s" for i in range(1, 5)]
    assert packaged.renditions[1]["frames"] == 70


def test_a_rendition_name_that_is_not_a_plain_directory_name_is_refused(title: Title, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="cannot be a directory name"):
        package_title(title.tools, title.layout, [Rendition("../x", 320, 180, 800, 1600)], title.chunks, FPS,
                      SEGMENT, title.audio, tmp_path)


def test_a_set_stop_event_cancels_before_any_ffmpeg_runs(title: Title, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        package_title(title.tools, title.layout, title.renditions, title.chunks, FPS, SEGMENT, title.audio,
                      tmp_path, stop=stop)
    assert not list((tmp_path / "cmaf").glob("*/seg_*.m4s"))


def first_presented(init: Path, segment: Path) -> Fraction:
    """When ffprobe (which applies the init segment's edit list) presents the segment's earliest sample."""
    info = ffprobe_json(Path(f"concat:{init}|{segment}"), "-show_entries", "packet=pts:stream=time_base")
    return min(p["pts"] for p in info["packets"]) * Fraction(info["streams"][0]["time_base"])


def mpd_starts(template: SegmentTemplate) -> list[Fraction]:
    """Each segment's start as a DASH player computes it: (S@t - presentationTimeOffset) / timescale."""
    offset, starts, t = template.presentation_time_offset or 0, [], 0
    for s in template.segment_timelines[0].Ss:
        t = s.t if s.t is not None else t
        for _ in range(1 + (s.r or 0)):
            starts.append(Fraction(t - offset, template.timescale))
            t += s.d
    return starts


def test_the_mpd_places_every_segment_where_ffprobe_presents_it(packaged: PackagedTitle) -> None:
    """The browser applies the init segment's edit list itself, so the MPD's times must be the media's
    own after it, clamped at 0 (the AAC priming is hidden), with presentationTimeOffset 0."""
    mpd = MPEGDASHParser.parse(str(packaged.root / "manifest.mpd"))
    for rep in [r for a in mpd.periods[0].adaptation_sets for r in a.representations]:
        (template,) = rep.segment_templates
        assert (template.presentation_time_offset or 0) == 0
        stated = mpd_starts(template)
        directory = packaged.root / "cmaf" / rep.id
        media = [max(Fraction(0), first_presented(directory / "init.mp4", directory / f"seg_{k:05d}.m4s"))
                 for k in range(1, len(stated) + 1)]
        assert stated == media, f"{rep.id}: MPD {list(map(float, stated))}, media {list(map(float, media))}"
