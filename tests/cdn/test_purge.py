"""Deleted means gone (issue 16): a purge drops a title's objects from an edge — fresh, stale or
being filled — so the next request asks the origin; and the link lifetime is a setting."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from server.cdn.cluster import CDN
from server.cdn.steering import Steering
from server.cdn.topology import Topology
from server.errors import InvalidRequest
from tests.cdn.conftest import VIDEO_ID, EdgeMaker, fetch, wait_for

SEG = "cmaf/90p/seg_001.m4s"
PLAYBACK = ("master.m3u8", "cmaf/90p/stream.m3u8", SEG)


def test_after_a_delete_and_a_purge_the_edge_answers_404_not_a_cached_hit(make_edge: EdgeMaker,
                                                                         store) -> None:
    edge = make_edge()
    for path in PLAYBACK:
        fetch(edge.url_for(VIDEO_ID, path))
        assert fetch(edge.url_for(VIDEO_ID, path))[1]["X-Cache"] == "HIT"
    trash = store.trash(f"videos/{VIDEO_ID}")
    assert edge.purge_title(VIDEO_ID) == len(PLAYBACK)
    for path in PLAYBACK:
        assert fetch(edge.url_for(VIDEO_ID, path))[0] == 404, path
    assert edge.health()["objects"] == 0 and edge.has_title(VIDEO_ID) == 0
    store.restore(trash, f"videos/{VIDEO_ID}")
    assert fetch(edge.url_for(VIDEO_ID, SEG))[1]["X-Cache"] == "MISS"


def test_a_purged_title_is_not_served_stale_while_the_origin_is_down(make_edge: EdgeMaker, origin,
                                                                      clock) -> None:
    edge = make_edge(ttl_s=10)
    url = edge.url_for(VIDEO_ID, SEG)
    fetch(url)
    origin.fail = True
    clock.advance(60)
    assert fetch(url)[1]["X-Cache"] == "STALE"         # before the purge: stale-if-error as usual
    edge.purge_title(VIDEO_ID)
    status, _, body = fetch(url)
    assert status == 502 and json.loads(body)["error"] == "OriginError"


def test_a_fill_in_flight_when_the_title_is_purged_is_not_kept(make_edge: EdgeMaker, origin) -> None:
    edge = make_edge()
    origin.latency_s = 0.5          # the fill is still fetching when the purge comes
    url = edge.url_for(VIDEO_ID, SEG)
    first: list[int] = []
    reader = threading.Thread(target=lambda: first.append(fetch(url)[0]))
    reader.start()
    wait_for(lambda: origin.fetches == 1)
    edge.purge_title(VIDEO_ID)
    reader.join()
    assert first == [200]           # it asked before the purge
    assert not edge.cache.has(f"videos/{VIDEO_ID}/{SEG}")
    origin.latency_s = 0
    assert fetch(url)[1]["X-Cache"] == "MISS" and origin.fetches == 2


def test_the_cdn_purges_every_edge_running_or_stopped(data_dir, origin, recorder) -> None:
    net = CDN(Topology.default(), origin, data_dir, recorder)
    net.start()
    try:
        names = list(net.edges)[:3]
        for name in names:
            fetch(net.edge(name).url_for(VIDEO_ID, SEG))
        net.stop_edge(names[0])
        assert net.purge_title(VIDEO_ID) == 3
        assert all(net.edge(n).has_title(VIDEO_ID) == 0 for n in names)
    finally:
        net.stop()


@pytest.fixture
def cdn(data_dir, origin, recorder) -> Iterator[CDN]:
    net = CDN(Topology.default(), origin, data_dir, recorder)
    yield net
    net.stop()


def expiry_of(url: str) -> int:
    return int(url.split("/t/", 1)[1].split(".", 1)[0], 16)


def test_the_link_lifetime_is_the_edge_token_ttl_setting(cdn: CDN, monkeypatch) -> None:
    cdn.start()
    for raw, lifetime in [("", 6 * 3600), ("600", 600)]:
        monkeypatch.setenv("MINIFLIX_EDGE_TOKEN_TTL_S", raw)
        url = Steering(cdn).best(VIDEO_ID).url or ""
        assert expiry_of(url) - cdn.clock.now() == pytest.approx(lifetime, abs=2)


@pytest.mark.parametrize("raw", ["0", "-5", "59", "604801", "1e9", "nan", "six hours", "\u0661\u0662"])
def test_an_unusable_link_lifetime_is_refused_with_what_to_use(cdn: CDN, monkeypatch, raw: str) -> None:
    monkeypatch.setenv("MINIFLIX_EDGE_TOKEN_TTL_S", raw)
    with pytest.raises(InvalidRequest, match="EDGE_TOKEN_TTL_S") as err:
        Steering(cdn)
    assert "60 to 604800" in str(err.value)
