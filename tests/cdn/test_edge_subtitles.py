"""Subtitle files through the edges a player meets: the HLS WebVTT segments and playlist under
`subs/<track>/` and the whole-track `.vtt` the MPD names, served by a real nginx edge like the
video segments (the Python edge serves `subs/` already)."""

from __future__ import annotations

import pytest

from server.storage.blobstore import LocalBlobStore
from tests.cdn.conftest import VIDEO_ID, fetch
from tests.cdn.test_nginx_edge import CdnMaker, edge_of, make_cdn  # noqa: F401 (make_cdn is a fixture)

FILES = {"subs/en/playlist.m3u8": b"#EXTM3U\n", "subs/en/seg_00001.vtt": b"WEBVTT\n\n",
         "subs/en-sdh.vtt": b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n[music]\n"}


@pytest.mark.parametrize("rest", sorted(FILES))
def test_an_nginx_edge_serves_the_subtitle_files(make_cdn: CdnMaker, store: LocalBlobStore,  # noqa: F811
                                                 rest: str) -> None:
    store.put(f"videos/{VIDEO_ID}/{rest}", FILES[rest])
    status, _headers, body = fetch(edge_of(make_cdn()).url_for(VIDEO_ID, rest))
    assert (status, body) == (200, FILES[rest])
