"""The ABR lab against reality: a trace-driven edge throttle, an edge link that paces like a link, the
VMAF utility on a title with measured quality, and hls.js in headless Chromium picking the rungs the
lab's throughput rule predicts on the same trace."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.catalog import Catalog, Title
from server.errors import InvalidRequest
from server.http.runner import HttpServer
from server.http.services import Services
from server.labs import abr
from server.labs.abr_manifest import Ladder, Rung, load_ladder, parse_master
from server.labs.abr_throttle import TraceThrottle
from server.labs.abr_traces import BandwidthTrace, synthetic
from server.labs.abr_validate import TARGET_WITHIN_ONE, validate
from server.paths import DataDir
from server.storage.blobstore import LocalBlobStore
from tests.http.conftest import VIDEO_ID, Made
from tests.jobs.helpers import cli
from tests.labs.hlsjs_probe import Rig, encode_ladder_title


class FakeEdge:
    """Only the cap, to see what the driver sets."""

    def __init__(self) -> None:
        self.bandwidth_mbps: float | None = None
        self.history: list[float | None] = []

    def set_bandwidth(self, mbps: float | None) -> None:
        self.bandwidth_mbps = mbps
        self.history.append(mbps)


def test_the_throttle_sets_each_trace_step_in_order_and_gives_the_old_cap_back() -> None:
    trace = BandwidthTrace("hand", (0.0, 0.1, 0.2), (1.0, 2.0, 0.0), tail_s=0.1)
    edge = FakeEdge()
    with TraceThrottle(trace, [edge]) as throttle:
        while len(edge.history) < 4:
            time.sleep(0.01)
    assert edge.history[:4] == [1.0, 2.0, 0.001, 1.0]       # an outage is a thin link; then it loops
    assert edge.bandwidth_mbps is None                          # uncapped again after stop()
    assert [m for _, m in throttle.applied[:3]] == [1.0, 2.0, 0.001]


def ranged_get(url: str, last_byte: int) -> tuple[float, float, int]:
    """(seconds to the first body byte, seconds in all, bytes) of GET `url` with Range 0-last_byte."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    began = time.monotonic()
    try:
        conn.request("GET", parts.path, headers={"Range": f"bytes=0-{last_byte}"})
        response = conn.getresponse()
        first = response.read(1)
        ttfb = time.monotonic() - began
        rest = response.read()
        return ttfb, time.monotonic() - began, len(first) + len(rest)
    finally:
        conn.close()


def test_a_throttled_edge_sends_its_first_byte_after_one_small_piece_not_a_whole_chunk(
        cdn: Services, title: Title) -> None:
    # 16 KiB at 0.1 Mbit/s take 1.3 s; a link's first byte comes after its RTT and a few bytes. hls.js
    # takes the first-byte time off each download, so a late first byte inflated its estimate 3x.
    edge = cdn.cdn.edge("lon-1")
    url = edge.url_for(VIDEO_ID, "cmaf/360p/seg_00001.m4s")
    ranged_get(url, 100)                       # cached on the edge first
    edge.set_bandwidth(0.1)
    ttfb, total, nbytes = ranged_get(url, 16 * 1024 - 1)
    assert nbytes == 16 * 1024
    assert ttfb < 0.7 < total


def test_a_cap_changed_mid_response_applies_to_the_rest_of_the_body(cdn: Services, title: Title) -> None:
    # 64 KiB at 0.05 Mbit/s would take 10.5 s; the trace lifts the cap after 0.5 s.
    edge = cdn.cdn.edge("lon-1")
    url = edge.url_for(VIDEO_ID, "cmaf/360p/seg_00001.m4s")
    ranged_get(url, 100)
    edge.set_bandwidth(0.05)
    threading.Timer(0.5, edge.set_bandwidth, args=(None,)).start()
    _, total, nbytes = ranged_get(url, 64 * 1024 - 1)
    assert nbytes == 64 * 1024 and total < 4.0


def test_the_master_playlist_gives_each_rungs_declared_peak_and_average() -> None:
    text = ('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=5201484,AVERAGE-BANDWIDTH=3423880,CODECS="avc1.4d401f,'
            'mp4a.40.2",RESOLUTION=1280x720\ncmaf/720p/playlist.m3u8\n'
            '#EXT-X-STREAM-INF:BANDWIDTH=624180,CODECS="avc1.42c015"\ncmaf/240p/playlist.m3u8\n')
    assert parse_master(text) == {"720p": (5201484.0, 3423880.0), "240p": (624180.0, 0.0)}


def test_vmaf_utility_scores_each_segment_by_its_rungs_measured_vmaf(data: DataDir, title: Title,
                                                                      tmp_path: Path) -> None:
    ladder = load_ladder(Catalog(data.catalog_db), LocalBlobStore(data.origin), VIDEO_ID)
    assert ladder.has_vmaf and all(0 < (r.vmaf or 0) <= 100 for r in ladder.rungs)
    assert ladder.rungs[1].peak_bps > ladder.rungs[1].average_bps > 0        # from the master playlist
    result = abr.run(ladder, abr.Experiment("steady:50M", ("throughput",), 2, utility="vmaf"))
    session = result.sessions["throughput"][0]
    expected = sum(ladder.rungs[r].vmaf or 0 for r in session.rungs)     # no stall, no switch at 50M
    assert session.rebuffer_s == 0 and session.switches == 0
    assert session.qoe == pytest.approx(expected, abs=0.01)
    assert session.avg_vmaf == pytest.approx(ladder.rungs[-1].vmaf, abs=0.01)
    body = result.to_dict()
    assert body["qoe_weights"] == {"vmaf": 1.0, "rebuffer_s": -100.0, "switch_vmaf": -1.0}
    done = cli("lab", "abr", "--data-dir", str(data.root), "--title", VIDEO_ID, "--trace", "steady:50M",
               "--algorithms", "bba", "--sessions", "2", "--utility", "vmaf", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["settings"]["utility"] == "vmaf"


def test_vmaf_utility_on_a_title_without_measured_vmaf_is_refused_by_name() -> None:
    unmeasured = Ladder("old-title", (2.0,), (Rung("240p", 240, (50_000,)),))
    with pytest.raises(InvalidRequest, match="'old-title' has no measured VMAF"):
        abr.run(unmeasured, abr.Experiment("steady:5M", ("bba",), 1, utility="vmaf"))
    with pytest.raises(InvalidRequest, match="Unknown QoE utility 'psnr'"):
        abr.Experiment("steady:5M", ("bba",), 1, utility="psnr")


def test_vmaf_twins_are_named_in_the_suggestions() -> None:
    rungs = (Rung("480p", 480, (200_000,) * 4, vmaf=93.0), Rung("720p", 720, (400_000,) * 4, vmaf=94.1))
    ladder = Ladder("twins", (2.0,) * 4, rungs)
    result = abr.run(ladder, abr.Experiment("steady:50M", ("throughput",), 1))
    assert any("480p and 720p are within 2 VMAF (93.0 vs 94.1)" in s for s in result.suggestions())


def test_http_takes_the_utility_and_refuses_an_unknown_one(server: HttpServer, title: Title) -> None:
    import urllib.error
    import urllib.request

    def get(**params: str) -> tuple[int, dict]:
        url = f"{server.url}/api/lab/abr?{urllib.parse.urlencode({'title': VIDEO_ID, **params})}"
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    status, body = get(trace="steady:5M", sessions="2", algorithms="bba", utility="vmaf")
    assert status == 200 and body["settings"]["utility"] == "vmaf"
    assert "avg_vmaf" in body["algorithms"][0]["stats"]
    status, body = get(utility="psnr")
    assert status == 400 and "Unknown QoE utility" in body["message"]


@pytest.fixture(scope="module")
def ladder_title(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """30 one-second segments of noisy 720p: rungs at about 0.45, 0.9, 1.6 and 3.4 Mbit/s."""
    return encode_ladder_title(tmp_path_factory.mktemp("abr-ladder"), 30, 1.0, fps=8)


@pytest.fixture
def rig(tmp_path: Path, ladder_title: Made) -> Iterator[Rig]:
    built = Rig(tmp_path, ladder_title)
    yield built
    built.close()


def test_hls_js_in_chromium_picks_the_rungs_the_lab_predicts_on_the_same_trace(rig: Rig) -> None:
    # steps seed 2: 0.4 Mbit/s (below all but 240p) for 22 s, then 2.5 Mbit/s (room for 480p).
    ladder = rig.ladder()
    assert len(ladder.rungs) == 4 and len(ladder.durations) == 30
    rig.warm(ladder)
    trace = synthetic("steps", 2)
    comparison = validate(ladder, trace, rig.edge, lambda: rig.play(30, timeout_s=100), rig.rtt_ms)
    assert comparison.within_one >= TARGET_WITHIN_ONE, comparison.to_dict()
    assert len(set(comparison.hlsjs)) >= 2, "the trace should move hls.js between rungs"
