"""An edge over real HTTP on loopback, pulling from a real blob store holding an ffmpeg-made title."""

from __future__ import annotations

import json
import threading
import urllib.error

import pytest

from server.cdn.httpio import transfer_delay_s
from server.cdn.policies import POLICIES
from tests.cdn.conftest import (
    BIG_SEGMENT,
    VIDEO_ID,
    EdgeMaker,
    Recorder,
    fetch,
    publish_big_segment,
    read_slowly,
    wait_for,
)

SEG = "cmaf/90p/seg_001.m4s"


def test_first_request_misses_then_hits_with_same_bytes(make_edge: EdgeMaker, store, clock) -> None:
    edge = make_edge()
    url = edge.url_for(VIDEO_ID, SEG)
    status, headers, body = fetch(url)
    assert (status, headers["X-Cache"]) == (200, "MISS")
    clock.advance(7)
    status, headers, again = fetch(url)
    assert (status, headers["X-Cache"], headers["Age"]) == (200, "HIT", "7")
    assert body == again == store.read(f"videos/{VIDEO_ID}/{SEG}")
    assert edge.health()["hit_ratio"] == 0.5


@pytest.mark.parametrize("path, mime", [
    ("master.m3u8", "application/vnd.apple.mpegurl"), ("manifest.mpd", "application/dash+xml"),
    (SEG, "video/iso.segment"), ("cmaf/90p/init.mp4", "video/mp4"), ("thumbs/sprite.vtt", "text/vtt"),
    ("thumbs/poster.jpg", "image/jpeg")])
def test_every_packaged_object_has_the_type_players_expect(make_edge: EdgeMaker, path: str,
                                                           mime: str) -> None:
    status, headers, _ = fetch(make_edge().url_for(VIDEO_ID, path))
    assert (status, headers["Content-Type"]) == (200, mime)


def test_range_requests_get_exactly_the_asked_bytes(make_edge: EdgeMaker, store) -> None:
    edge = make_edge()
    whole = store.read(f"videos/{VIDEO_ID}/{SEG}")
    url = edge.url_for(VIDEO_ID, SEG)
    cases = [("bytes=0-99", whole[:100]), ("bytes=100-", whole[100:]), ("bytes=-50", whole[-50:])]
    for header, expected in cases:
        status, headers, body = fetch(url, {"Range": header})
        assert (status, body) == (206, expected)
        assert headers["Content-Range"].endswith(f"/{len(whole)}")
    status, headers, _ = fetch(url, {"Range": f"bytes={len(whole) + 10}-"})
    assert status == 416
    wait_for(lambda: edge.health()["load"] == 0)       # a refused range does not leave the edge "busy"
    assert edge.health()["load"] == 0 and edge.load() == 0


def test_ttl_expiry_refetches_a_changed_object_and_revalidates_an_unchanged_one(
        make_edge: EdgeMaker, store, origin, clock) -> None:
    edge = make_edge(ttl_s=30)
    url = edge.url_for(VIDEO_ID, "master.m3u8", expires_in=3600)
    fetch(url)
    clock.advance(31)
    _, headers, _ = fetch(url)
    assert (headers["X-Cache"], headers["Age"]) == ("HIT", "0")      # revalidated by ETag, not re-pulled
    assert origin.fetches == 1
    store.put(f"videos/{VIDEO_ID}/master.m3u8", b"#EXTM3U\n#changed\n")
    clock.advance(31)
    _, headers, body = fetch(url)
    assert (headers["X-Cache"], body) == ("MISS", b"#EXTM3U\n#changed\n")


def test_expired_object_is_served_stale_while_the_origin_is_down(make_edge: EdgeMaker, origin, clock) -> None:
    edge = make_edge(ttl_s=10)
    url = edge.url_for(VIDEO_ID, SEG)
    _, _, fresh = fetch(url)
    origin.fail = True
    clock.advance(60)
    status, headers, body = fetch(url)
    assert (status, headers["X-Cache"], body) == (200, "STALE", fresh)
    asked = origin.attempts
    assert fetch(url)[1]["X-Cache"] == "STALE" and origin.attempts == asked   # no origin wait per request
    clock.advance(6)
    assert fetch(url)[1]["X-Cache"] == "STALE" and origin.attempts == asked + 1
    # never cached: nothing to fall back on
    status, _, body = fetch(edge.url_for(VIDEO_ID, "cmaf/90p/seg_000.m4s"))
    assert status == 502 and json.loads(body)["error"] == "OriginError"
    origin.fail = False
    clock.advance(6)
    assert fetch(url)[1]["X-Cache"] == "HIT"                                  # revalidated once it is back


def test_concurrent_misses_for_one_object_make_one_origin_fetch(make_edge: EdgeMaker, origin) -> None:
    edge = make_edge()
    url = edge.url_for(VIDEO_ID, SEG)
    gate, results = threading.Barrier(12), []
    origin.latency_s = 0.3       # a far origin: every request arrives while the first fetch is in flight

    def client() -> None:
        gate.wait()
        results.append(fetch(url))

    threads = [threading.Thread(target=client) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert origin.fetches == 1
    assert {r[0] for r in results} == {200} and len({r[2] for r in results}) == 1


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_cached_bytes_on_disk_never_exceed_capacity(make_edge: EdgeMaker, store, recorder: Recorder,
                                                    policy: str) -> None:
    sizes = {k: store.stat(k).size for k in store.list(f"videos/{VIDEO_ID}")}
    capacity = max(sizes.values()) + min(sizes.values())
    edge = make_edge(capacity_bytes=capacity, policy=policy)
    for _ in range(2):
        for key in sizes:
            status, _, _ = fetch(edge.url_for(VIDEO_ID, key.split("/", 2)[2]))
            assert status == 200
            on_disk = sum(p.stat().st_size for p in edge.cache.root.iterdir() if p.is_file())
            assert on_disk == edge.health()["cached_bytes"] <= capacity
    wait_for(lambda: any(e["reason"] == "capacity" for e in recorder.of("cdn", "miss")))
    assert recorder.of("cdn", "evict")
    assert any(e["reason"] == "capacity" for e in recorder.of("cdn", "miss"))


@pytest.mark.parametrize("path", [
    "/t/{token}/videos/demo/../../keys/edge.key", "/t/{token}/videos/demo/%2e%2e/%2e%2e/catalog.sqlite",
    "/t/{token}/videos/demo/%2E%2E%2Fother/x", "/t/{token}//etc/passwd", "/t/{token}/videos/demo//etc/passwd",
    "/t/{token}/videos/demo/.%2e/x", "/t/{token}/videos/demo/sub\\..\\x", "/etc/passwd"])
def test_paths_that_try_to_leave_the_title_are_refused(make_edge: EdgeMaker, signer, clock,
                                                        path: str) -> None:
    edge = make_edge()
    token = signer.sign(VIDEO_ID, int(clock.now()) + 60)
    status, _, body = fetch(edge.base_url + path.format(token=token))
    assert status in (403, 404)
    assert b"BEGIN" not in body and b"root:" not in body


def test_a_symlink_in_the_origin_is_not_followed(make_edge: EdgeMaker, store, data_dir) -> None:
    secret = data_dir.root / "secret.txt"
    secret.write_text("do not serve")
    (store.root / "videos" / VIDEO_ID / "leak.m4s").symlink_to(secret)
    status, _, body = fetch(make_edge().url_for(VIDEO_ID, "leak.m4s"))
    assert status == 403 and b"do not serve" not in body


def test_tampered_expired_or_foreign_tokens_get_403_before_any_file_access(
        make_edge: EdgeMaker, origin, clock) -> None:
    edge = make_edge()
    good = edge.url_for(VIDEO_ID, SEG, expires_in=30)
    token = good.split("/t/")[1].split("/")[0]
    tampered = good.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    other_title = good.replace(f"/videos/{VIDEO_ID}/", "/videos/other/")
    for url in (tampered, other_title):
        assert fetch(url)[0] == 403
    clock.advance(31)
    assert fetch(good)[0] == 403
    assert origin.fetches == 0


def test_relative_segment_uris_keep_the_token_so_ffmpeg_plays_the_title(make_edge: EdgeMaker) -> None:
    import subprocess

    edge = make_edge()
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                          "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0",
                          edge.url_for(VIDEO_ID, "master.m3u8")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip().splitlines()[0]) == 50


def test_throttled_edge_delays_each_response_by_rtt_plus_serialisation(make_edge: EdgeMaker, store,
                                                                       clock) -> None:
    edge = make_edge(rtt_ms=20, bandwidth_mbps=None)
    size = store.stat(f"videos/{VIDEO_ID}/{SEG}").size
    url = edge.url_for(VIDEO_ID, SEG)
    fetch(url)
    before = clock.slept
    fetch(url)
    fast_delay = clock.slept - before
    edge.set_bandwidth(2)
    before = clock.slept
    _, slow, _ = fetch(url)
    slow_delay = clock.slept - before
    assert fast_delay == pytest.approx(0.020)
    assert slow_delay == pytest.approx(0.020 + size * 8 / 2e6)
    assert float(slow["X-Sim-Delay-Ms"]) == pytest.approx(transfer_delay_s(size, 20, 2) * 1000, abs=0.01)
    assert slow_delay > fast_delay


def test_every_request_emits_a_cdn_event_with_the_documented_fields(make_edge: EdgeMaker,
                                                                    recorder: Recorder) -> None:
    edge = make_edge()
    url = edge.url_for(VIDEO_ID, SEG)
    fetch(url)
    fetch(url)
    wait_for(lambda: len(recorder.of("cdn", "hit")) == 1)
    miss, hit = recorder.of("cdn", "miss"), recorder.of("cdn", "hit")
    assert len(miss) == len(hit) == 1 and len(recorder.of("cdn", "fill")) == 1
    for event in (miss[0], hit[0]):
        assert {"type", "edge", "region", "video_id", "object", "bytes", "at"} <= set(event)
        assert (event["edge"], event["video_id"]) == ("test-1", VIDEO_ID)
        assert event["object"] == f"videos/{VIDEO_ID}/{SEG}"
        assert event["bytes"] > 0
    assert miss[0]["reason"] == "content"


def test_stop_really_closes_the_port_and_cuts_kept_alive_clients(make_edge: EdgeMaker) -> None:
    import http.client

    edge = make_edge()
    port = edge.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", edge.url_for(VIDEO_ID, SEG).split(str(port), 1)[1])
    assert conn.getresponse().read()
    edge.stop()
    assert not edge.running and edge.health()["healthy"] is False
    with pytest.raises(urllib.error.URLError) as refused:
        fetch(edge.url_for(VIDEO_ID, SEG))
    assert isinstance(refused.value.reason, ConnectionRefusedError)
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/health")
        conn.getresponse().read()
    assert edge.start() == port
    assert fetch(edge.url_for(VIDEO_ID, SEG))[0] == 200


def test_the_health_endpoint_reports_load_content_and_ratios(make_edge: EdgeMaker) -> None:
    edge = make_edge()
    fetch(edge.url_for(VIDEO_ID, SEG))
    status, headers, body = fetch(f"{edge.base_url}/health")
    report = json.loads(body)
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert {"name", "region", "healthy", "load", "cached_bytes", "capacity_bytes", "hit_ratio",
            "throughput_bps", "objects"} <= set(report)
    assert report["healthy"] is True and report["objects"] == 1 and report["titles"] == {VIDEO_ID: 1}


def test_a_client_with_the_current_etag_gets_304_without_a_body(make_edge: EdgeMaker) -> None:
    edge = make_edge()
    url = edge.url_for(VIDEO_ID, "master.m3u8")
    _, headers, _ = fetch(url)
    status, again, body = fetch(url, {"If-None-Match": headers["ETag"]})
    assert (status, body, again["ETag"]) == (304, b"", headers["ETag"])
    assert fetch(url, {"If-None-Match": '"stale-tag"'})[0] == 200


def test_clearing_a_cache_deletes_only_its_own_object_files(make_edge: EdgeMaker) -> None:
    edge = make_edge()
    fetch(edge.url_for(VIDEO_ID, SEG))
    bystander = edge.cache.root / "notes.txt"
    bystander.write_text("not a cached object")
    edge.cache.clear()
    assert bystander.exists() and edge.health()["objects"] == 0
    assert sorted(p.name for p in edge.cache.root.iterdir()) == [".tmp", "notes.txt"]


def test_a_request_is_stamped_with_the_time_it_arrived_not_when_its_last_byte_left(
        make_edge: EdgeMaker, recorder: Recorder, store, clock) -> None:
    """A replayed trace orders requests by their time: a slow viewer's request must keep the time it
    came in, or the next viewer's request sorts before it (the recorded trace's order was a race)."""
    segment = publish_big_segment(store, "slow")
    edge = make_edge()
    clock.advance(100.0)
    arrived = clock.now()
    assert read_slowly(edge.url_for("slow", segment), lambda: clock.advance(30.0)) == BIG_SEGMENT
    wait_for(lambda: len(recorder.of("cdn", "miss")) == 1)
    [event] = recorder.of("cdn", "miss")
    assert event["object"] == f"videos/slow/{segment}" and event["at"] == arrived
