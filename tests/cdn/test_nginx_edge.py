"""nginx edges (edge_engine=nginx): real nginx processes on loopback, real HTTP, the demo title of
tests/cdn/conftest.py in a real blob store. What a player, steering and analytics see must match the
Python edge: bytes, refusals, stale-if-error, stop/start, throttle, purge, events."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest

from server.cdn.cluster import CDN
from server.cdn.nginx_edge import NginxEdge
from server.cdn.nginx_process import NginxMissing
from server.cdn.origin import StoreOrigin
from server.cdn.tokens import NginxSigner, Signer
from server.cdn.topology import EdgeSpec, Topology
from server.errors import Forbidden, NotFound
from server.events.log import EventLog
from server.paths import DataDir
from server.registry import BadSetting
from server.storage.blobstore import LocalBlobStore
from tests.cdn.conftest import (
    BIG_SEGMENT,
    SPEC,
    VIDEO_ID,
    EdgeMaker,
    Recorder,
    fetch,
    publish_big_segment,
    read_slowly,
    wait_for,
)
from tests.conftest import engine_processes

SEGMENT = "cmaf/90p/seg_001.m4s"
ROOT = Path(__file__).resolve().parents[2]
CdnMaker = Callable[..., CDN]


def nginx_is_installed() -> None:
    """These tests need Debian's nginx (the set-up installs nginx-light): fail, never skip."""
    assert shutil.which("nginx") or Path("/usr/sbin/nginx").exists(), (
        "nginx is not installed: `make setup` installs nginx-light (apt-get install nginx-light)")


@pytest.fixture
def make_cdn(data_dir: DataDir, origin: StoreOrigin, recorder: Recorder) -> Iterator[CdnMaker]:
    """`make_cdn(**spec_overrides)` -> a started CDN of one nginx edge; at teardown every nginx
    process it started (masters, workers, cache helpers) must be gone."""
    nginx_is_installed()
    made: list[CDN] = []
    children: list[psutil.Process] = []

    def make(**overrides: Any) -> CDN:
        spec = replace(SPEC, **overrides)
        cdn = CDN(Topology([spec]), origin, data_dir, recorder, engine="nginx", health_interval_s=0.1)
        made.append(cdn)
        cdn.start()
        edge = cdn.edges[spec.name]
        children.extend(psutil.Process(edge.pid).children(recursive=True))
        return cdn

    yield make
    for cdn in made:
        cdn.stop()
    assert engine_processes("nginx", data_dir.root) == [], "an nginx master outlived its CDN"
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def edge_of(cdn: CDN) -> NginxEdge:
    [edge] = cdn.edges.values()
    assert isinstance(edge, NginxEdge)
    return edge


def origin_bytes(store: LocalBlobStore, rest: str) -> bytes:
    return (store.root / "videos" / VIDEO_ID / rest).read_bytes()


def test_a_miss_then_a_hit_serve_the_origins_bytes_with_x_cache_and_cors(make_cdn: CdnMaker,
                                                                        store: LocalBlobStore) -> None:
    edge = edge_of(make_cdn())
    url = edge.url_for(VIDEO_ID, SEGMENT)
    first, second = fetch(url), fetch(url)
    assert first[0] == second[0] == 200
    assert first[2] == second[2] == origin_bytes(store, SEGMENT)
    assert (first[1]["X-Cache"], second[1]["X-Cache"]) == ("MISS", "HIT")
    assert second[1]["Access-Control-Allow-Origin"] == "*"
    assert "X-Cache" in second[1]["Access-Control-Expose-Headers"]
    assert fetch(edge.url_for(VIDEO_ID, "master.m3u8"))[1]["Content-Type"] == "application/vnd.apple.mpegurl"


def test_a_range_of_a_cached_segment_is_the_origins_bytes(make_cdn: CdnMaker, store: LocalBlobStore) -> None:
    edge = edge_of(make_cdn())
    url = edge.url_for(VIDEO_ID, SEGMENT)
    fetch(url)
    status, headers, body = fetch(url, {"Range": "bytes=100-299"})
    whole = origin_bytes(store, SEGMENT)
    assert status == 206 and body == whole[100:300]
    assert headers["Content-Range"] == f"bytes 100-299/{len(whole)}"


def test_health_counts_a_miss_at_once_and_a_hit_once_nginx_flushed_it(make_cdn: CdnMaker) -> None:
    cdn = make_cdn()
    edge = edge_of(cdn)
    fetch(edge.url_for(VIDEO_ID, SEGMENT))
    fetch(edge.url_for(VIDEO_ID, SEGMENT))
    [report] = cdn.health()
    assert (report["misses"], report["healthy"]) == (1, True)
    wait_for(lambda: cdn.health()[0]["hits"] == 1)     # nginx writes its buffered hits within 1 s
    assert cdn.health()[0]["throughput_bps"] > 0


def test_bad_expired_and_other_title_tokens_are_refused(make_cdn: CdnMaker) -> None:
    cdn = make_cdn()
    edge = edge_of(cdn)
    good = edge.url_for(VIDEO_ID, SEGMENT)
    token = good.split("/")[4]
    expired = cdn.signer.sign(VIDEO_ID, int(time.time()) - 5)
    other = cdn.signer.sign("other", int(time.time()) + 600)
    hmac_kind = Signer(b"k" * 32).sign(VIDEO_ID, int(time.time()) + 600)
    expiry, mac = token.split(".")
    forged = f"{expiry}.{'B' if mac[0] == 'A' else 'A'}{mac[1:]}"    # (mac's last character has spare bits)
    for bad in ("nonsense", forged, f"{int(expiry) + 1}.{mac}", expired, other, hmac_kind):
        assert fetch(good.replace(token, bad))[0] == 403, bad
    assert fetch(good)[0] == 200
    _, headers, body = fetch(good.replace(token, expired))
    assert headers["Content-Type"] == "application/json" and "expired" in json.loads(body)["message"]
    assert "does not match" in json.loads(fetch(good.replace(token, other))[2])["message"]


def test_the_source_upload_traversal_and_other_paths_are_refused(make_cdn: CdnMaker,
                                                                 store: LocalBlobStore) -> None:
    source = store.root / "videos" / VIDEO_ID / "source" / "upload.mp4"
    source.parent.mkdir()
    source.write_bytes(b"the original upload")
    edge = edge_of(make_cdn())
    token = edge.url_for(VIDEO_ID).split("/")[4]
    raw = [f"/t/{token}/videos/{VIDEO_ID}/source/upload.mp4",
           f"/t/{token}/videos/{VIDEO_ID}/cmaf/../source/upload.mp4",
           f"/t/{token}/videos/{VIDEO_ID}/cmaf/%2e%2e/source/upload.mp4",
           f"/t/{token}/videos/{VIDEO_ID}/../other/master.m3u8"]
    for path in raw:
        status, body = raw_get(edge.port, path)
        assert status in (400, 403, 404), path
        assert b"original upload" not in body
    assert raw_get(edge.port, f"/t/{token}/videos/{VIDEO_ID}/{'a' * 3000}.m4s")[0] == 414
    assert raw_get(edge.port, "/origin/videos/demo/master.m3u8")[0] == 404


def raw_get(port: int, path: str) -> tuple[int, bytes]:
    """One GET with the path sent exactly as given (urllib would not send some of these)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_a_stale_copy_is_served_while_the_origin_is_down(make_cdn: CdnMaker, origin: StoreOrigin,
                                                         store: LocalBlobStore) -> None:
    edge = edge_of(make_cdn(ttl_s=1))
    url = edge.url_for(VIDEO_ID, SEGMENT)
    assert fetch(url)[1]["X-Cache"] == "MISS"
    time.sleep(2.1)      # past the TTL (nginx counts whole seconds, expiry is strict): stale now
    origin.fail = True
    status, headers, body = fetch(url)
    assert status == 200 and headers["X-Cache"] in ("STALE", "UPDATING")
    assert body == origin_bytes(store, SEGMENT)
    assert fetch(edge.url_for(VIDEO_ID, "cmaf/90p/seg_000.m4s"))[0] >= 500   # never cached: no copy


def test_throttle_sets_the_rate_nginx_applies(make_cdn: CdnMaker) -> None:
    cdn = make_cdn()
    edge = edge_of(cdn)
    url = edge.url_for(VIDEO_ID, SEGMENT)
    assert fetch(url)[1]["X-Limit-Rate"] == "0"          # SPEC has no bandwidth cap
    cdn.throttle(edge.name, 8)
    assert fetch(url)[1]["X-Limit-Rate"] == "1000000"     # 8 Mbit/s in bytes per second
    assert (edge.layout.rate_conf.read_text().count(" 1000000;"), cdn.health()[0]["bandwidth_mbps"]) == (1, 8)
    cdn.throttle(edge.name, None)
    assert fetch(url)[1]["X-Limit-Rate"] == "0"


def test_a_stopped_edge_refuses_connections_and_starts_again_on_its_port(make_cdn: CdnMaker) -> None:
    cdn = make_cdn()
    edge = edge_of(cdn)
    url = edge.url_for(VIDEO_ID, SEGMENT)
    fetch(url)
    port = edge.port
    cdn.stop_edge(edge.name)
    with pytest.raises(OSError):
        fetch(url)
    assert not cdn.is_healthy(edge.name) and cdn.health()[0]["url"] is None
    assert cdn.start_edge(edge.name) == port
    status, headers, _ = fetch(url)
    assert (status, headers["X-Cache"]) == (200, "HIT")   # its cache outlived the process
    wait_for(lambda: cdn.is_healthy(edge.name))


def test_after_a_title_is_deleted_and_purged_its_segments_are_no_longer_served(
        make_cdn: CdnMaker, store: LocalBlobStore) -> None:
    cdn = make_cdn()
    edge = edge_of(cdn)
    urls = [edge.url_for(VIDEO_ID, rest) for rest in (SEGMENT, "master.m3u8")]
    for url in urls:
        fetch(url)
    assert fetch(urls[0])[1]["X-Cache"] == "HIT" and cdn.health()[0]["titles"] == {VIDEO_ID: 2}
    store.trash(f"videos/{VIDEO_ID}")
    assert fetch(urls[0])[0] == 200, "still cached before the purge (what a purge is for)"
    assert cdn.purge_title(VIDEO_ID) == 2
    assert [fetch(url)[0] for url in urls] == [404, 404]
    assert edge.has_title(VIDEO_ID) == 0


def test_a_proactive_fill_makes_the_next_request_a_hit(make_cdn: CdnMaker, recorder: Recorder,
                                                       store: LocalBlobStore) -> None:
    edge = edge_of(make_cdn())
    assert edge.fill(f"videos/{VIDEO_ID}/{SEGMENT}") == len(origin_bytes(store, SEGMENT))
    assert edge.fill(f"videos/{VIDEO_ID}/{SEGMENT}") == 0
    assert fetch(edge.url_for(VIDEO_ID, SEGMENT))[1]["X-Cache"] == "HIT"
    wait_for(lambda: len(recorder.of("cdn", "hit")) == 1)
    assert [e["object"] for e in recorder.of("cdn", "fill")] == [f"videos/{VIDEO_ID}/{SEGMENT}"]
    assert recorder.of("cdn", "miss") == []
    with pytest.raises(NotFound):     # the proactive fill reports it and goes on with the next object
        edge.fill(f"videos/{VIDEO_ID}/cmaf/90p/missing.m4s")


def test_events_have_the_python_edges_shape(make_cdn: CdnMaker, make_edge: EdgeMaker,
                                            recorder: Recorder) -> None:
    python_edge = make_edge(name="py-1")
    nginx_edge = edge_of(make_cdn(name="ngx-1"))
    for edge in (python_edge, nginx_edge):
        for _ in range(2):
            fetch(edge.url_for(VIDEO_ID, SEGMENT) + "?session=s-1")
    wait_for(lambda: len(recorder.of("cdn", "hit")) == 2 and len(recorder.of("cdn", "miss")) == 2)
    for kind in ("hit", "miss", "fill", "health"):
        shapes = {e["edge"]: (sorted(e), type(e["at"]), type(e["bytes"])) for e in recorder.of("cdn", kind)}
        assert shapes["py-1"] == shapes["ngx-1"], kind
    py_health, ngx_health = python_edge.health(), nginx_edge.health()
    assert {k: type(v) for k, v in py_health.items()} == {
        k: type(v) for k, v in ngx_health.items() if k != "engine"}, "health() as the Network view reads it"
    assert ngx_health["titles"] == py_health["titles"] == {VIDEO_ID: 1}
    [py_miss, ngx_miss] = recorder.of("cdn", "miss")
    assert {k: v for k, v in ngx_miss.items() if k not in ("edge", "at")} == {
        k: v for k, v in py_miss.items() if k not in ("edge", "at")}


def test_the_tail_neither_loses_nor_doubles_lines_across_stop_and_start(
        make_cdn: CdnMaker, recorder: Recorder, data_dir: DataDir, origin: StoreOrigin) -> None:
    cdn = make_cdn()
    edge = edge_of(cdn)
    for _ in range(5):
        fetch(edge.url_for(VIDEO_ID, SEGMENT))
    cdn.stop_edge(edge.name)
    cdn.start_edge(edge.name)
    for _ in range(3):
        fetch(edge.url_for(VIDEO_ID, SEGMENT))
    wait_for(lambda: len(recorder.of("cdn", "hit")) + len(recorder.of("cdn", "miss")) >= 8)
    cdn.stop()
    assert (len(recorder.of("cdn", "miss")), len(recorder.of("cdn", "hit"))) == (1, 7)
    assert cdn.health()[0]["hits"] == 7
    again = CDN(cdn.topology, origin, data_dir, recorder, engine="nginx")   # the app restarted
    again.start()
    again.stop()
    assert len(recorder.of("cdn", "hit")) == 7, "a restart replayed old log lines"


@contextlib.contextmanager
def nginx_cdn_logging_to(events: EventLog, data_dir: DataDir, origin: StoreOrigin) -> Iterator[CDN]:
    """A started CDN of one nginx edge (SPEC) whose events go to `events`; stopped when the block ends."""
    cdn = CDN(Topology([SPEC]), origin, data_dir, events, engine="nginx")
    cdn.start()
    try:
        yield cdn
    finally:
        cdn.stop()


def cdn_events(events: EventLog) -> list[dict[str, Any]]:
    """Every `cdn` event stored in the log, oldest first per partition."""
    found: list[dict[str, Any]] = []
    while batch := events.poll("test-reader", ["cdn"], max_events=5000, timeout=0):
        found.extend(event.value for event in batch)
    return found


def test_every_request_is_one_event_also_across_a_restart_of_the_hit_tail(
        data_dir: DataDir, origin: StoreOrigin) -> None:
    nginx_is_installed()
    with EventLog(data_dir.root / "events.sqlite") as events:
        with nginx_cdn_logging_to(events, data_dir, origin) as cdn:
            edge = edge_of(cdn)
            tail = edge.hit_tail
            assert tail is not None and tail.pid is not None, "a log another process can open"
            assert os.sched_getscheduler(tail.pid) == os.SCHED_IDLE, "the tail runs only on idle cores"
            url = edge.url_for(VIDEO_ID, SEGMENT)
            for _ in range(50):
                fetch(url)
            wait_for(lambda: cdn.health()[0]["hits"] == 49)
            killed = tail.pid
            os.kill(killed, signal.SIGKILL)              # the tail dies (between two batches)
            for _ in range(30):
                fetch(url)
            wait_for(lambda: tail.running and tail.pid != killed)   # the edge starts it again
            wait_for(lambda: cdn.health()[0]["hits"] == 79)
            for _ in range(20):
                fetch(url)                             # still in nginx's buffer when the edge stops
        served = [e for e in cdn_events(events) if e["type"] in ("hit", "miss")]
    assert (sum(e["type"] == "miss" for e in served), sum(e["type"] == "hit" for e in served)) == (1, 99)


def test_a_hit_tail_that_keeps_dying_leaves_the_hits_to_the_edge(data_dir: DataDir, origin: StoreOrigin,
                                                                tmp_path: Path) -> None:
    nginx_is_installed()
    with EventLog(data_dir.root / "events.sqlite") as events:
        with nginx_cdn_logging_to(events, data_dir, origin) as cdn:
            edge = edge_of(cdn)
            tail = edge.hit_tail
            assert tail is not None and tail.pid is not None
            tail.event_log = tmp_path          # a folder: every new tail process fails at once
            os.kill(tail.pid, signal.SIGKILL)
            for _ in range(10):
                fetch(edge.url_for(VIDEO_ID, SEGMENT))
            wait_for(lambda: edge.hit_tail is None, timeout=30)
            wait_for(lambda: cdn.health()[0]["hits"] == 9)
        assert sum(e["type"] == "hit" for e in cdn_events(events)) == 9


def test_the_hit_tail_publishes_in_a_lull_or_once_hits_waited_max_lag(tmp_path: Path) -> None:
    from server.cdn.hit_tail import MAX_LAG_S, Lull

    log = tmp_path / "hits.log"
    log.write_bytes(b"")
    lull = Lull(log)
    assert not lull.now_due(0, now=0.0)                      # nothing written
    with open(log, "ab") as nginx:
        for step in range(1, 4):
            nginx.write(b"a hit\n")
            nginx.flush()
            assert not lull.now_due(0, now=step * 0.5), "nginx is busy: wait"
        assert lull.now_due(0, now=2.0), "the log stopped growing: publish"
        for step in range(1, 20):
            nginx.write(b"a hit\n")
            nginx.flush()
            if lull.now_due(log.stat().st_size - 6, now=2.0 + step * 0.5):
                break
    waited = (2.0 + step * 0.5) - 2.5                        # since the first unpublished hit was seen
    assert waited == MAX_LAG_S, "no lull while nginx kept writing: published MAX_LAG_S late, not never"


def test_the_cache_hit_ratio_query_counts_nginx_edge_requests(make_cdn: CdnMaker, origin: StoreOrigin,
                                                              data_dir: DataDir) -> None:
    from server.analytics.service import AnalyticsService
    from server.engine import Engine

    with Engine(data_dir) as engine:
        cdn = CDN(Topology([SPEC]), origin, data_dir, engine.events, engine="nginx")
        cdn.start()
        try:
            edge = edge_of(cdn)
            for _ in range(4):
                fetch(edge.url_for(VIDEO_ID, SEGMENT))
        finally:
            cdn.stop()
        analytics = AnalyticsService(data_dir, engine.events)
        try:
            analytics.catch_up()
            [row] = analytics.query("cache_hit_ratio")
        finally:
            analytics.stop()
    assert (row["edge"], row["requests"], row["hits"], row["hit_ratio"]) == (SPEC.name, 4, 3, 0.75)


def test_nginx_tokens_verify_in_python_as_nginx_checks_them() -> None:
    signer = NginxSigner(b"k" * 32)
    token = signer.sign(VIDEO_ID, 2_000_000_000)
    assert token.startswith("2000000000.") and len(token.split(".")[1]) == 22
    assert signer.verify(token, VIDEO_ID, now=1_000) == 2_000_000_000
    for video_id, now in (("other", 1_000), (VIDEO_ID, 2_000_000_000)):
        with pytest.raises(Forbidden):
            signer.verify(token, video_id, now=now)
    assert NginxSigner(b"j" * 32).secret != signer.secret


def test_a_bad_edge_engine_setting_names_the_setting_and_exits_2(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    from server.engine import check_settings

    monkeypatch.setenv("MINIFLIX_EDGE_ENGINE", "apache")
    with pytest.raises(BadSetting, match="MINIFLIX_EDGE_ENGINE='apache'"):
        check_settings()
    env = {"MINIFLIX_EDGE_ENGINE": "apache", "MINIFLIX_DATA_DIR": str(tmp_path / "data"),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "main.py", "videos"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "MINIFLIX_EDGE_ENGINE='apache'" in done.stderr


def test_nginx_chosen_but_not_installed_names_the_setting(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path, data_dir: DataDir,
                                                          origin: StoreOrigin) -> None:
    from server.cdn import edge_engines
    from server.engine import check_settings

    monkeypatch.setenv("MINIFLIX_EDGE_ENGINE", "nginx")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(edge_engines, "NGINX_ELSEWHERE", ())
    with pytest.raises(BadSetting, match="MINIFLIX_EDGE_ENGINE='nginx': nginx is not installed"):
        check_settings()
    cdn = CDN(Topology([SPEC]), origin, data_dir, engine="nginx")
    with pytest.raises(NginxMissing, match="nginx is not installed"):
        cdn.start()
    cdn.stop()


def test_a_cdn_built_for_nginx_signs_links_nginx_can_check(monkeypatch: pytest.MonkeyPatch,
                                                           data_dir: DataDir, origin: StoreOrigin) -> None:
    monkeypatch.setenv("MINIFLIX_EDGE_ENGINE", "nginx")
    cdn = CDN(Topology([EdgeSpec("a-1", "eu-west", 0, 0, 1, None, 1 << 20, 60, "lru")]), origin, data_dir)
    assert isinstance(cdn.signer, NginxSigner) and isinstance(cdn.edges["a-1"], NginxEdge)
    monkeypatch.setenv("MINIFLIX_EDGE_ENGINE", "python")
    assert not isinstance(CDN(cdn.topology, origin, data_dir).signer, NginxSigner)


def test_load_counts_the_requests_nginx_is_answering(make_cdn: CdnMaker, store: LocalBlobStore) -> None:
    big = store.root / "videos" / VIDEO_ID / "cmaf" / "90p" / "big.m4s"
    big.write_bytes(b"\0" * 2_000_000)
    cdn = make_cdn(max_clients=4)
    edge = edge_of(cdn)
    cdn.throttle(edge.name, 0.8)                       # 100 kB/s: the transfer lasts ~20 s
    conn = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=10)
    conn.request("GET", edge.url_for(VIDEO_ID, "cmaf/90p/big.m4s").split(str(edge.port), 1)[1])
    resp = conn.getresponse()
    resp.read(1000)
    wait_for(lambda: edge.load() == 0.25)              # 1 of its 4 clients
    assert cdn.health()[0]["load"] == 0.25
    conn.close()
    wait_for(lambda: edge.load() == 0.0)


def test_concurrent_misses_for_one_object_make_one_origin_fetch(make_cdn: CdnMaker, origin: StoreOrigin,
                                                                store: LocalBlobStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    edge = edge_of(make_cdn())
    origin.latency_s = 0.3               # a far origin: the requests arrive while the first fill runs
    url = edge.url_for(VIDEO_ID, SEGMENT)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: fetch(url), range(8)))
    assert all(status == 200 and body == origin_bytes(store, SEGMENT) for status, _, body in answers)
    assert origin.fetches == 1


def test_an_nginx_left_behind_by_a_dead_app_is_ended_at_the_next_start(
        make_cdn: CdnMaker, data_dir: DataDir, origin: StoreOrigin, recorder: Recorder) -> None:
    crashed = edge_of(make_cdn())
    fetch(crashed.url_for(VIDEO_ID, SEGMENT))   # then the app "dies": nothing stops this nginx
    left_behind = psutil.Process(crashed.pid)
    workers = left_behind.children()
    again = CDN(Topology([SPEC]), origin, data_dir, recorder, engine="nginx")
    try:
        again.start()
        assert not left_behind.is_running() or left_behind.status() == psutil.STATUS_ZOMBIE
        assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
        assert fetch(edge_of(again).url_for(VIDEO_ID, SEGMENT))[1]["X-Cache"] == "HIT"
    finally:
        again.stop()


def test_nginx_evictions_are_evict_events_and_a_capacity_miss(make_cdn: CdnMaker, recorder: Recorder,
                                                              store: LocalBlobStore) -> None:
    big = {f"cmaf/90p/big_{i}.m4s": bytes([i]) * 50_000 for i in range(4)}
    for rest, body in big.items():
        (store.root / "videos" / VIDEO_ID / rest).write_bytes(body)
    edge = edge_of(make_cdn(capacity_bytes=120_000))      # room for two of the four
    for rest in big:
        assert fetch(edge.url_for(VIDEO_ID, rest))[2] == big[rest]
    wait_for(lambda: bool(recorder.of("cdn", "evict")), timeout=30)   # nginx wakes its cache manager ~10 s
    evicted = recorder.of("cdn", "evict")[0]
    assert evicted["object"].startswith(f"videos/{VIDEO_ID}/cmaf/90p/big_") and evicted["bytes"] > 50_000
    rest = evicted["object"].split("/", 2)[2]
    status, headers, body = fetch(edge.url_for(VIDEO_ID, rest))
    assert (status, headers["X-Cache"], body) == (200, "MISS", big[rest])
    wait_for(lambda: len(recorder.of("cdn", "miss")) == 5)
    assert recorder.of("cdn", "miss")[-1]["reason"] == "capacity"
    assert {e["reason"] for e in recorder.of("cdn", "miss")[:4]} == {"content"}


def test_a_request_is_stamped_with_the_time_it_arrived_as_on_the_python_edge(
        make_cdn: CdnMaker, store: LocalBlobStore, recorder: Recorder) -> None:
    """nginx logs a request once its last byte went out; its event keeps the time it came in."""
    segment = publish_big_segment(store, "slow")
    cdn = make_cdn()
    arrived = time.time()
    assert read_slowly(edge_of(cdn).url_for("slow", segment), lambda: time.sleep(3)) == BIG_SEGMENT
    wait_for(lambda: len(recorder.of("cdn", "miss")) == 1)
    [event] = recorder.of("cdn", "miss")
    assert event["object"] == f"videos/slow/{segment}"
    assert arrived - 0.5 <= event["at"] < arrived + 1.5, event["at"] - arrived   # logged 3 s later
