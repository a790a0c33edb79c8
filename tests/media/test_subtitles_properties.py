"""Properties of the WebVTT segmenter and of the manifests' subtitle entries: whatever the cues and
the segment grid, every cue is in each segment it overlaps and in no other, a real WebVTT parser
(pysubs2) reads every segment back to those cues with their absolute times, and replacing a master's
subtitle group leaves every other line as it was."""

from __future__ import annotations

import pysubs2
from hypothesis import given
from hypothesis import strategies as st

from server.media.playlists import master_with_subtitles
from server.media.subtitles import Cue
from server.media.text_tracks import TextRendition, segment_cues, webvtt

MILLIS = st.integers(min_value=0, max_value=60_000)
WORDS = st.text(alphabet=st.sampled_from("abcdé ñ,.?!-"), min_size=1, max_size=30).filter(str.strip)


@st.composite
def cues(draw: st.DrawFn) -> list[Cue]:
    spans = draw(st.lists(st.tuples(MILLIS, st.integers(min_value=1, max_value=9_000), WORDS), max_size=12))
    return [Cue(start / 1000, (start + length) / 1000, " ".join(text.split()))
            for start, length, text in spans]


@st.composite
def grids(draw: st.DrawFn) -> list[tuple[float, float]]:
    durations = draw(st.lists(st.integers(min_value=500, max_value=8_000), min_size=1, max_size=20))
    out, start = [], 0
    for duration in durations:
        out.append((start / 1000, duration / 1000))
        start += duration
    return out


@given(cues(), grids())
def test_each_cue_is_in_exactly_the_segments_it_overlaps_with_its_own_times(
        said: list[Cue], grid: list[tuple[float, float]]) -> None:
    parts = segment_cues(said, grid)
    assert len(parts) == len(grid)
    for (start, duration), part in zip(grid, parts, strict=True):
        overlapping = [c for c in said if c.start < start + duration and c.end > start]
        assert part == overlapping
        read = pysubs2.SSAFile.from_string(webvtt(part, 900000), format_="vtt")
        assert [(e.start / 1000, e.end / 1000, e.plaintext) for e in read.events] == [
            (c.start, c.end, c.text) for c in part]


TRACKS = st.lists(st.builds(
    lambda i, lang, forced, sdh: TextRendition(f"t{i}", lang, f"Track {i}", forced, sdh, False, "x.srt",
                                               f"subs/t{i}/playlist.m3u8", f"subs/t{i}.vtt"),
    st.integers(0, 99), st.sampled_from(["", "en", "pt-BR"]), st.booleans(), st.booleans()),
    max_size=4, unique_by=lambda t: t.id)
MASTER = ("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
          '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Main",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",'
          'URI="cmaf/audio/playlist.m3u8"\n'
          '#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"\n'
          "cmaf/720p/playlist.m3u8\n")


@given(TRACKS, TRACKS)
def test_replacing_the_subtitle_group_keeps_everything_else(first: list[TextRendition],
                                                            second: list[TextRendition]) -> None:
    once = master_with_subtitles(MASTER, first)
    again = master_with_subtitles(once, second)
    assert again == master_with_subtitles(MASTER, second)
    assert master_with_subtitles(again, []) == MASTER
    assert again.count("#EXT-X-MEDIA:TYPE=SUBTITLES") == len(second)
