"""Text tracks packaged with encoder-shaped inputs (packaging_inputs): an audio-only title's subtitles
follow its audio segments, and verification reads them back."""

from __future__ import annotations

from pathlib import Path

import m3u8

from server.media.package import package_title
from server.media.subtitles import Cue, TextTrack
from server.media.verify import verify_title
from tests.media.packaging_inputs import SEGMENT, make_title


def test_an_audio_only_title_gets_subtitles_on_its_audio_segments(tmp_path: Path) -> None:
    title = make_title(tmp_path / "work", video=False)
    out = tmp_path / "staging"
    out.mkdir()
    track = TextTrack(language="en", cues=[Cue(0.5, 1.0, "a song about the sea")])
    packaged = package_title(title.tools, title.layout, [], [], None, SEGMENT, title.audio, out,
                             text_tracks=[track])
    master = m3u8.load(str(out / "master.m3u8"))
    [subs] = [m for m in master.media if m.type == "SUBTITLES"]
    assert master.playlists[0].stream_info.subtitles == "subs"
    audio = m3u8.load(str(out / master.playlists[0].uri))
    text = m3u8.load(str(out / subs.uri))
    assert [s.duration for s in text.segments] == [s.duration for s in audio.segments]
    report = verify_title(title.tools, packaged, 0, None, SEGMENT)
    assert report.ok, report.problems
    assert report.checks["text_tracks"]["en"]["segments"] == len(audio.segments)
