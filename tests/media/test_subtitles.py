"""Subtitle sources read from real files: sidecars in odd encodings and formats, bad files that warn
with file and line, embedded streams made by ffmpeg (mov_text, SubRip, and PGS that is reported as
not converted)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from server.media.ffmpeg import find_tools
from server.media.probe import probe
from server.media.subtitles import Cue, ReadResult, TextTrack, find_sidecars, read_sidecar, sidecar_flags
from server.media.subtitles_embedded import collect_text_tracks
from server.media.text_tracks import segment_cues, webvtt, write_text_tracks
from tests.conftest import generate_clip

SRT_FR = ("1\r\n00:00:01,000 --> 00:00:02,500\r\nCafé à l'aube, déjà\r\n\r\n"
          "2\r\n00:00:03,000 --> 00:00:04,000\r\nÇa va ?\r\n")
SRT_DE = "1\n00:00:00,500 --> 00:00:01,500\n[Musik] Grüße aus München\n"
ASS_EN = """[Script Info]
ScriptType: v4.00+
PlayResX: 384
PlayResY: 288

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, \
Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, \
MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Comment: 0,0:00:00.00,0:00:05.00,Default,,0,0,0,,a note for the translator
Dialogue: 0,0:00:01.20,0:00:02.40,Default,,0,0,0,,{\\i1}The sign says{\\i0}\\NNO ENTRY
"""
RUSSIAN = "Мост на рассвете, как дела?"
BAD_SRT = """1
00:00:01,000 --> 00:00:02,000
fine

2
00:00:03,000 --> 00:00:02,500
reversed

3
00:00:01,500 --> 00:00:04,000
overlaps the first

4
00:00:50,000 --> 00:00:51,000
after the end
"""


def sidecars(folder: Path) -> Path:
    """clip.mp4 with a cp1252 French SRT, a UTF-16 (BOM) German SDH SRT and a forced English ASS."""
    video = folder / "clip.mp4"
    video.write_bytes(b"")  # only the name matters to the sidecar search
    (folder / "clip.fr.srt").write_bytes(SRT_FR.encode("cp1252"))
    (folder / "clip.de.sdh.srt").write_bytes(SRT_DE.encode("utf-16"))
    (folder / "clip.en.forced.ass").write_text(ASS_EN, encoding="utf-8")
    (folder / "other.srt").write_text(SRT_DE, encoding="utf-8")  # another video's
    return video


def read_all(video: Path, duration: float = 9.0) -> dict[str, ReadResult]:
    return {path.name: read_sidecar(path, sidecar_flags(video.stem, path), duration)
            for path in find_sidecars(video)}


def test_sidecars_are_found_by_name_and_read_in_their_own_encoding_and_format(tmp_path: Path) -> None:
    video = sidecars(tmp_path)
    assert [p.name for p in find_sidecars(video)] == ["clip.de.sdh.srt", "clip.en.forced.ass", "clip.fr.srt"]
    results = read_all(video)
    fr, de, en = (results[name].track for name in ("clip.fr.srt", "clip.de.sdh.srt", "clip.en.forced.ass"))
    assert fr is not None and de is not None and en is not None
    assert (fr.language, fr.forced, fr.sdh) == ("fr", False, False)
    assert fr.cues == [Cue(1.0, 2.5, "Café à l'aube, déjà"), Cue(3.0, 4.0, "Ça va ?")]
    assert (de.language, de.sdh) == ("de", True)
    assert de.cues == [Cue(0.5, 1.5, "[Musik] Grüße aus München")]
    assert (en.language, en.forced) == ("en", True)
    assert en.cues == [Cue(1.2, 2.4, "The sign says\nNO ENTRY")]  # styling gone, the comment skipped
    assert all(not r.warnings for r in results.values())


def test_a_bad_srt_warns_naming_file_and_line_and_keeps_what_a_player_can_show(tmp_path: Path) -> None:
    (tmp_path / "clip.es.srt").write_text(BAD_SRT, encoding="utf-8")
    result = read_sidecar(tmp_path / "clip.es.srt", sidecar_flags("clip", tmp_path / "clip.es.srt"), 9.0)
    assert result.track is not None and [c.text for c in result.track.cues] == ["fine", "overlaps the first"]
    assert [w.split(":")[0] for w in result.warnings] == ["clip.es.srt, line 6", "clip.es.srt, line 10",
                                                          "clip.es.srt, line 14"]
    assert "ends before it starts" in result.warnings[0] and "overlaps" in result.warnings[1]
    assert "after the video ends" in result.warnings[2]


def test_a_file_that_is_not_subtitles_is_skipped_with_a_warning(tmp_path: Path) -> None:
    bad = tmp_path / "clip.en.srt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    result = read_sidecar(bad, sidecar_flags("clip", bad), 9.0)
    assert result.track is None
    assert result.warnings and result.warnings[-1].startswith("clip.en.srt")
    assert "skipped" in result.warnings[-1]


def test_a_cue_across_a_segment_boundary_is_in_both_segments_with_its_absolute_times() -> None:
    cues = [Cue(1.0, 2.0, "one"), Cue(3.9, 4.2, "across"), Cue(5.0, 6.0, "two")]
    parts = segment_cues(cues, [(0.0, 4.0), (4.0, 4.0), (8.0, 1.0)])
    assert parts == [[cues[0], cues[1]], [cues[1], cues[2]], []]
    assert "00:00:03.900 --> 00:00:04.200\nacross" in webvtt(parts[1], 0)
    assert webvtt(parts[1], 900000).splitlines()[:2] == ["WEBVTT",
                                                         "X-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000"]


def test_at_most_one_text_track_is_the_default_and_names_are_unique(tmp_path: Path) -> None:
    tracks = [TextTrack(language=lang, default=True, cues=[Cue(0.0, 1.0, lang)])
              for lang in ("en", "fr", "eng")]
    written = write_text_tracks(tmp_path, tracks, [(0.0, 2.0)], 0)
    assert [(t.id, t.name, t.default) for t in written] == [
        ("en", "English", True), ("fr", "Français", False), ("eng", "English 2", False)]


def test_cue_text_is_escaped_for_webvtt() -> None:
    assert "\nTom &amp; Jerry &lt;3\n" in webvtt([Cue(1.0, 2.0, "Tom & Jerry <3")])


def mux(out: Path, video: Path, extra: list[str], maps: list[str], codec: list[str]) -> Path:
    """`video` (no audio: AAC priming would shift the container's clock) with subtitle inputs muxed in."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(video), *extra, *maps, "-c:v", "copy",
                    *codec, str(out)], check=True)
    return out


def test_embedded_mov_text_is_converted_with_its_language_and_flags(tmp_path: Path) -> None:
    clip = generate_clip(tmp_path / "plain.mp4", seconds=5, audio=False)
    srt = tmp_path / "in.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\n<i>Hello</i> there\n", encoding="utf-8")
    source = mux(tmp_path / "movtext.mp4", clip, ["-i", str(srt)], ["-map", "0", "-map", "1"],
                 ["-c:s", "mov_text", "-metadata:s:s:0", "language=eng", "-disposition:s:0", "forced"])
    info = probe(source)
    assert [(s.codec, s.language, s.forced) for s in info.subtitles] == [("mov_text", "eng", True)]
    found = collect_text_tracks(find_tools(), info, tmp_path / "work")
    [track] = found.tracks
    assert (track.language, track.forced, track.source) == ("eng", True, "embedded stream 1 (mov_text)")
    assert track.cues == [Cue(1.0, 2.0, "Hello there")]
    assert found.notes == []


def pgs(path: Path) -> Path:
    """A minimal real PGS stream (.sup): one empty display set at 1 s and its end at 2 s."""
    import struct

    def segment(pts: int, kind: int, data: bytes) -> bytes:
        return b"PG" + struct.pack(">IIBH", pts, 0, kind, len(data)) + data

    def composition(number: int, state: int) -> bytes:
        return struct.pack(">HHBHBBBB", 320, 180, 0x10, number, state, 0, 0, 0)

    path.write_bytes(segment(90000, 0x16, composition(0, 0x80)) + segment(90000, 0x17,
                     struct.pack(">BBHHHH", 1, 0, 0, 0, 16, 16)) + segment(90000, 0x80, b"")
                     + segment(180000, 0x16, composition(1, 0)) + segment(180000, 0x80, b""))
    return path


def test_pgs_images_are_reported_as_not_converted_and_subrip_beside_them_is_kept(tmp_path: Path) -> None:
    clip = generate_clip(tmp_path / "plain.mp4", seconds=3, audio=False)
    srt = tmp_path / "in.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:01,000\nkept\n", encoding="utf-8")
    source = mux(tmp_path / "film.mkv", clip, ["-i", str(pgs(tmp_path / "in.sup")), "-i", str(srt)],
                 ["-map", "0", "-map", "1", "-map", "2"],
                 ["-c:s:0", "copy", "-c:s:1", "srt", "-metadata:s:s:0", "language=fra"])
    info = probe(source)
    assert [s.codec for s in info.subtitles] == ["hdmv_pgs_subtitle", "subrip"]
    found = collect_text_tracks(find_tools(), info, tmp_path / "work")
    assert [t.cues for t in found.tracks] == [[Cue(0.5, 1.0, "kept")]]
    [note] = found.notes
    assert note.startswith("subtitle stream 1 (PGS images, fra) not converted: picture-based subtitles")


def test_embedded_ass_and_webvtt_in_matroska_are_converted_without_styling(tmp_path: Path) -> None:
    clip = generate_clip(tmp_path / "plain.mp4", seconds=3, audio=False)
    ass, vtt = tmp_path / "in.ass", tmp_path / "in.vtt"
    ass.write_text(ASS_EN, encoding="utf-8")
    vtt.write_text("WEBVTT\n\n00:00:00.500 --> 00:00:01.500\n<b>Bold</b> & plain\n", encoding="utf-8")
    source = mux(tmp_path / "styled.mkv", clip, ["-i", str(ass), "-i", str(vtt)],
                 ["-map", "0", "-map", "1", "-map", "2"],
                 ["-c:s:0", "ass", "-c:s:1", "webvtt", "-metadata:s:s:0", "language=eng",
                  "-metadata:s:s:1", "language=spa"])
    info = probe(source)
    assert [(s.codec, s.language) for s in info.subtitles] == [("ass", "eng"), ("webvtt", "spa")]
    found = collect_text_tracks(find_tools(), info, tmp_path / "work")
    assert [(t.language, t.cues) for t in found.tracks] == [
        ("eng", [Cue(1.2, 2.4, "The sign says\nNO ENTRY")]), ("spa", [Cue(0.5, 1.5, "Bold & plain")])]
    assert found.notes == []


def test_a_cyrillic_srt_in_cp1251_is_read_as_cyrillic_and_western_text_as_cp1252(tmp_path: Path) -> None:
    russian = tmp_path / "clip.ru.srt"
    russian.write_bytes(f"1\n00:00:01,000 --> 00:00:02,500\n{RUSSIAN}\n".encode("cp1251"))
    french = tmp_path / "clip.fr.srt"  # Š is 0x8a in cp1252 and another letter in cp1250
    french.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nDéjà vu, monsieur Šimon ?\n".encode("cp1252"))
    tracks = {p.name: read_sidecar(p, sidecar_flags("clip", p), 9.0).track for p in (russian, french)}
    ru, fr = tracks["clip.ru.srt"], tracks["clip.fr.srt"]
    assert ru is not None and [c.text for c in ru.cues] == [RUSSIAN]
    assert fr is not None and [c.text for c in fr.cues] == ["Déjà vu, monsieur Šimon ?"]
