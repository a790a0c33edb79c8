"""The router's MPD for a title with subtitles: the text sets' own `<BaseURL>` (their `.vtt`) must not
be taken for an MPD-level one, or the router's BaseURL is left out and ffmpeg, resolving against
the URL it first asked for, fetches every segment from the wrong place."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from server.http.playlists import with_base_url

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}
MPD = """<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">
  <Period id="0" start="PT0S">
    <AdaptationSet id="2" contentType="text" mimeType="text/vtt" lang="fr">
      <Representation id="text-fr" bandwidth="256">
        <BaseURL>subs/fr.vtt</BaseURL>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""


def test_an_mpd_with_subtitles_still_gets_the_routers_base_url() -> None:
    root = ET.fromstring(with_base_url(MPD, "http://127.0.0.1:9/route/v1/-/"))
    assert [b.text for b in root.findall("d:BaseURL", NS)] == ["http://127.0.0.1:9/route/v1/-/"]
    assert [b.text for b in root.iterfind(".//d:Representation/d:BaseURL", NS)] == ["subs/fr.vtt"]


def test_an_mpd_that_names_its_own_base_url_is_left_as_it_is() -> None:
    own = MPD.replace('<Period id="0"', '<BaseURL>https://cdn.example/</BaseURL>\n  <Period id="0"')
    assert with_base_url(own, "http://127.0.0.1:9/route/v1/-/") == own
