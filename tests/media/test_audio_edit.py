"""The manifest rewrites behind audio track edits, on manifests as packaging writes them: a title
with one audio track gets a Label and Role when renamed; a commentary stays out of automatic
selection once it is no longer the default; every other line stays as packaged."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from server.errors import InvalidRequest, NotFound
from server.media.audio_edit import (
    audio_made_default,
    audio_renamed,
    master_with_audio,
    mpd_with_audio,
    parse_audio,
)

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}
ONE_TRACK = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Main",LANGUAGE="eng",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="cmaf/audio/playlist.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=300000,AVERAGE-BANDWIDTH=200000,CODECS="avc1.42c00d,mp4a.40.2",RESOLUTION=160x90,AUDIO="audio"
cmaf/144p/playlist.m3u8
"""
ONE_MPD = """<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"><Period id="0" start="PT0S">
<AdaptationSet id="0" contentType="video" mimeType="video/mp4">
<Representation id="144p" bandwidth="1"/></AdaptationSet>
<AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="eng">
<Representation id="audio" bandwidth="1"/></AdaptationSet>
</Period></MPD>
"""
COMMENTARY = ONE_TRACK.replace(
    "#EXT-X-STREAM-INF", '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Commentary",LANGUAGE="eng",'
    'DEFAULT=NO,AUTOSELECT=NO,CHANNELS="2",URI="cmaf/audio-2/playlist.m3u8"\n#EXT-X-STREAM-INF')
COMMENTARY_MPD = ONE_MPD.replace("</Period>", '<AdaptationSet id="2" contentType="audio" lang="eng">'
                                 '<Label>Commentary</Label><Role schemeIdUri="urn:mpeg:dash:role:2011" '
                                 'value="commentary"/><Representation id="audio-2" bandwidth="1"/>'
                                 "</AdaptationSet></Period>")


def labels_and_roles(mpd: str) -> list[tuple[str | None, str | None]]:
    sets = ET.fromstring(mpd).findall("d:Period/d:AdaptationSet[@contentType='audio']", NS)
    return [(a.findtext("d:Label", namespaces=NS), a.find("d:Role", NS).get("value"))  # type: ignore[union-attr]
            for a in sets]


def test_renaming_the_only_track_names_it_in_both_manifests_and_keeps_every_other_line() -> None:
    tracks = audio_renamed("audio", "English (stereo)", "v1")(parse_audio(ONE_TRACK, ONE_MPD))
    master = master_with_audio(ONE_TRACK, tracks)
    assert master == ONE_TRACK.replace('NAME="Main"', 'NAME="English (stereo)"')
    mpd = mpd_with_audio(ONE_MPD, tracks)
    assert labels_and_roles(mpd) == [("English (stereo)", "main")]
    set_children = [c.tag.split("}")[1] for c in ET.fromstring(mpd).find(
        "d:Period/d:AdaptationSet[@contentType='audio']", NS)]  # type: ignore[union-attr]
    assert set_children == ["Label", "Role", "Representation"]  # the schema's order


def test_a_commentary_made_default_and_back_is_not_auto_selected_again() -> None:
    tracks = parse_audio(COMMENTARY, COMMENTARY_MPD)
    assert [t.commentary for t in tracks] == [False, True]
    both = audio_made_default("audio-2", "v1")(tracks)
    master, mpd = master_with_audio(COMMENTARY, both), mpd_with_audio(COMMENTARY_MPD, both)
    assert [(t.default, t.autoselect) for t in parse_audio(master, mpd)] == [(False, True), (True, True)]
    assert labels_and_roles(mpd) == [("Main", "alternate"), ("Commentary", "commentary")]
    back = audio_made_default("audio", "v1")(parse_audio(master, mpd))
    master = master_with_audio(master, back)
    assert [(t.default, t.autoselect) for t in parse_audio(master)] == [(True, True), (False, False)]


def test_a_name_quote_is_kept_out_of_the_attribute_and_names_stay_unique() -> None:
    tracks = parse_audio(COMMENTARY, COMMENTARY_MPD)
    quoted = master_with_audio(COMMENTARY, audio_renamed("audio-2", 'The "making of"', "v1")(tracks))
    assert "NAME=\"The 'making of'\"" in quoted
    with pytest.raises(InvalidRequest, match="already named 'commentary'"):
        audio_renamed("audio", "commentary", "v1")(tracks)
    with pytest.raises(NotFound, match="no audio track 'audio-9'"):
        audio_made_default("audio-9", "v1")(tracks)
