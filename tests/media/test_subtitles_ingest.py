"""Text tracks through a real ingest (`main.py ingest`, 4 s segments): an MKV with an embedded SubRip
track and a PGS track, beside it sidecars in cp1252, UTF-16 and ASS plus a broken SRT. The title
publishes; players' readers (ffprobe through the master playlist, m3u8, mpegdash) find every track."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from tests.jobs.helpers import cli, json_lines
from tests.media.test_subtitles import ASS_EN, BAD_SRT, SRT_DE, pgs

EMBEDDED = ("1\n00:00:01,000 --> 00:00:02,000\nthe bridge\n\n"
            "2\n00:00:03,900 --> 00:00:04,200\nat dawn, across the boundary\n\n"
            "3\n00:00:06,000 --> 00:00:07,500\nthe end\n")
SRT_FR = "1\r\n00:00:03,900 --> 00:00:04,200\r\nLe pont à l'aube\r\n"
SDH = ("public.accessibility.transcribes-spoken-dialog,"
       "public.accessibility.describes-music-and-sound")


def source(folder: Path) -> Path:
    """9 s of 320x180 video and FLAC sound (no priming: the clock starts at 0), SubRip (eng) and PGS."""
    srt, sup = folder / "embedded.srt", pgs(folder / "images.sup")
    srt.write_text(EMBEDDED, encoding="utf-8")
    clip = folder / "clip.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=320x180:rate=25:duration=9", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000:duration=9", "-i", str(srt),
                    "-i", str(sup), "-map", "0", "-map", "1", "-map", "2", "-map", "3", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "flac", "-c:s:0", "srt", "-c:s:1",
                    "copy", "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fra",
                    str(clip)], check=True)
    (folder / "clip.fr.srt").write_bytes(SRT_FR.encode("cp1252"))
    (folder / "clip.de.sdh.srt").write_bytes(SRT_DE.encode("utf-16"))
    (folder / "clip.en.forced.ass").write_text(ASS_EN, encoding="utf-8")
    (folder / "clip.es.srt").write_text(BAD_SRT, encoding="utf-8")
    return clip


@pytest.fixture(scope="module")
def title(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("subs")
    run = cli("ingest", str(source(folder)), "--data-dir", str(folder / "d"), "--json",
              "--segment-seconds", "4", env={"MINIFLIX_QUALITY_MEASURE": "0"})
    assert run.returncode == 0, run.stderr
    [result] = json_lines(run.stdout)
    assert result["status"] == "published", result["error"]
    root = folder / "d" / "origin" / Path(result["master"]).parent
    return root, result


def test_the_title_publishes_with_warnings_for_the_bad_file_and_the_images(title: tuple[Path, dict[str, Any]]
                                                                           ) -> None:
    root, result = title
    notes = result["notes"]
    assert any(n.startswith("subtitle stream 3 (PGS images, fra) not converted") for n in notes), notes
    assert [n.split(":")[0] for n in notes if n.startswith("clip.es.srt")] == [
        "clip.es.srt, line 6", "clip.es.srt, line 10", "clip.es.srt, line 14"]
    report = json.loads((root / "integrity.json").read_text())
    assert report["ok"], report["problems"]
    assert sorted(report["checks"]["text_tracks"]) == ["de-sdh", "en-forced", "eng", "es", "fr"]


def test_the_master_playlist_announces_every_track_and_every_variant_refers_to_them(
        title: tuple[Path, dict[str, Any]]) -> None:
    root, _ = title
    master = m3u8.load(str(root / "master.m3u8"))
    subs = {m.uri: m for m in master.media if m.type == "SUBTITLES"}
    assert set(subs) == {f"subs/{t}/playlist.m3u8" for t in ("eng", "fr", "de-sdh", "en-forced", "es")}
    assert all(m.group_id == "subs" and m.autoselect == "YES" for m in subs.values())
    # ffmpeg's Matroska muxer flags the first subtitle stream default; shown to every viewer it is not
    assert all(m.default == "NO" for m in subs.values())
    sdh, forced = subs["subs/de-sdh/playlist.m3u8"], subs["subs/en-forced/playlist.m3u8"]
    assert (sdh.language, sdh.name, sdh.characteristics, sdh.forced) == ("de", "Deutsch (SDH)", SDH, "NO")
    assert (forced.language, forced.forced) == ("en", "YES")
    assert subs["subs/fr/playlist.m3u8"].name == "Français"
    assert master.playlists and all(p.stream_info.subtitles == "subs" for p in master.playlists)
    for uri in subs:
        media = m3u8.load(str(root / uri))
        video = m3u8.load(str(root / master.playlists[0].uri))
        assert [s.duration for s in media.segments] == [s.duration for s in video.segments]


def test_a_cue_across_the_4s_boundary_is_in_both_segments_with_the_same_times(
        title: tuple[Path, dict[str, Any]]) -> None:
    root, _ = title
    for track in ("eng", "fr"):
        folder = root / "subs" / track
        first, second = ((folder / f"seg_0000{n}.vtt").read_text(encoding="utf-8") for n in (1, 2))
        assert "00:00:03.900 --> 00:00:04.200" in first and "00:00:03.900 --> 00:00:04.200" in second
        assert first.splitlines()[1] == "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000"
    assert "Le pont à l'aube" in (root / "subs" / "fr" / "seg_00002.vtt").read_text(encoding="utf-8")


def test_ffprobe_reads_the_subtitle_renditions_through_the_master_playlist(
        title: tuple[Path, dict[str, Any]]) -> None:
    root, _ = title
    # ffmpeg 5.1 reads HLS subtitle renditions only when asked for experimental features
    out = subprocess.run(["ffprobe", "-v", "error", "-strict", "experimental", "-of", "json", "-show_streams",
                          "-show_packets", "-show_data", str(root / "master.m3u8")], check=True,
                         capture_output=True, text=True)
    data = json.loads(out.stdout)
    streams = {s["index"]: s for s in data["streams"]}
    languages = sorted(s["tags"]["language"] for s in streams.values() if s["codec_type"] == "subtitle")
    assert languages == ["de", "en", "eng", "es", "fr"]
    eng = next(i for i, s in streams.items() if s.get("tags", {}).get("language") == "eng"
               and s["codec_type"] == "subtitle")
    cues = {(round(float(p["pts_time"]), 3), round(float(p["duration_time"]), 3))
            for p in data["packets"] if p["stream_index"] == eng}
    assert cues == {(1.0, 1.0), (3.9, 0.3), (6.0, 1.5)}  # the boundary cue's two copies are one cue


def test_the_mpd_has_a_text_set_per_track_with_language_and_role(title: tuple[Path, dict[str, Any]]) -> None:
    root, _ = title
    mpd = MPEGDASHParser.parse(str(root / "manifest.mpd"))
    texts = [a for a in mpd.periods[0].adaptation_sets if a.content_type == "text"]
    roles = {a.lang: a.roles[0].value for a in texts if a.lang in ("de", "fr", "eng")}
    assert roles == {"de": "caption", "fr": "subtitle", "eng": "subtitle"}
    assert any(a.roles[0].value == "forced-subtitle" and a.lang == "en" for a in texts)
    for aset in texts:
        assert aset.mime_type == "text/vtt"
        [rep] = aset.representations
        vtt = (root / rep.base_urls[0].base_url_value).read_text(encoding="utf-8")
        assert vtt.startswith("WEBVTT\n") and "-->" in vtt


def test_ffprobe_reads_the_dash_text_sets_with_their_languages(title: tuple[Path, dict[str, Any]]) -> None:
    root, _ = title
    # ffmpeg's DASH reader fetches only media extensions unless told otherwise; the .vtt is text
    out = subprocess.run(["ffprobe", "-v", "error", "-allowed_extensions", "ALL", "-of", "json",
                          "-show_entries", "stream=codec_type,codec_name:stream_tags=language",
                          str(root / "manifest.mpd")], check=True, capture_output=True, text=True)
    streams = json.loads(out.stdout)["streams"]
    subtitles = sorted(s["tags"]["language"] for s in streams if s["codec_type"] == "subtitle")
    assert subtitles == ["de", "en", "eng", "es", "fr"]
    assert {s["codec_name"] for s in streams if s["codec_type"] == "subtitle"} == {"webvtt"}
