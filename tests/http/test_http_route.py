"""Request routing for players without Content Steering: `/play` → `/route/…`, one redirect per object.

The edge is stopped mid-play for real (its listener closes). To stop it between two transfers and
not in the middle of one (no router can save bytes an edge was cut off sending), the player process
is paused (SIGSTOP) once the edge has served the first segments, the edge is stopped once idle,
and the player resumes: every later request must reach a healthy edge through the router.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pytest

from server.catalog import Title
from server.http.runner import HttpServer
from server.http.services import Services
from server.paths import DataDir
from tests.http.conftest import FPS, VIDEO_ID, Made, publish
from tests.http.test_http_steering import fetch

REGION = "eu-west"
THROTTLE_MBPS = 4.0   # the play takes a few seconds, so the test can pause it after the first segments
SERVED_BEFORE_STOP = 14  # objects the first edge serves before it stops: past probing, mid-title

needs_sigstop = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="pausing a process needs POSIX")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` until true; fail naming `what` when it never becomes true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def served(services: Services) -> dict[str, int]:
    """Objects each edge has served (hits + misses)."""
    return {h["name"]: h["hits"] + h["misses"] for h in services.cdn.health()}


def stop_serving_edge_between_transfers(player: subprocess.Popen[str], services: Services,
                                        before: dict[str, int]) -> str:
    """Pause the player after its edge served its first objects (counted from `before`, taken
    before the player started), stop that edge once idle, resume the player."""
    def fresh() -> dict[str, int]:
        return {name: n - before.get(name, 0) for name, n in served(services).items()}

    wait_for(lambda: max(fresh().values()) >= SERVED_BEFORE_STOP or player.poll() is not None,
             60, "the player to fetch its first segments")
    if player.poll() is not None:
        pytest.fail(f"the player ended before the edge could be stopped: {player.communicate()[1]}")
    counts = fresh()
    edge = max(counts, key=counts.__getitem__)
    os.kill(player.pid, signal.SIGSTOP)
    try:
        node = services.cdn.edge(edge)
        wait_for(lambda: node.load() == 0, 30, f"edge {edge} to finish its transfers")
        services.cdn.stop_edge(edge)
    finally:
        os.kill(player.pid, signal.SIGCONT)
    return edge


def ffmpeg_play(url: str, services: Services) -> tuple[int, str, subprocess.CompletedProcess[str]]:
    """Decode the first video rung (and audio) of `url` with real ffmpeg while its edge is stopped
    mid-play: (video frames decoded, the stopped edge, ffmpeg's run)."""
    args = ["ffmpeg", "-v", "warning", "-nostats", "-progress", "pipe:1", "-i", url,
            "-map", "0:v:0", "-map", "0:a:0?", "-f", "null", "-"]
    before = served(services)
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as player:
        try:
            stopped = stop_serving_edge_between_transfers(player, services, before)
            out, err = player.communicate(timeout=120)
        finally:
            if player.poll() is None:
                player.kill()
    frames = re.findall(r"^frame=(\d+)$", out, re.M)
    return int(frames[-1]) if frames else 0, stopped, subprocess.CompletedProcess(args, player.returncode,
                                                                                   out, err)


def log_tail(run: subprocess.CompletedProcess[str], lines: int = 8) -> str:
    return "\n".join(run.stderr.splitlines()[-lines:])


@needs_sigstop
@pytest.mark.parametrize("manifest", ["master.m3u8", "manifest.mpd"])
def test_ffmpeg_reads_every_frame_when_its_edge_stops_mid_play(long_title: Made, data: DataDir,
                                                               server: HttpServer, cdn: Services,
                                                               manifest: str) -> None:
    publish(data, long_title)
    for edge in cdn.cdn.edges:
        cdn.cdn.throttle(edge, THROTTLE_MBPS)
    url = f"{server.url}/play/{VIDEO_ID}/{manifest}?region={REGION}"
    frames, stopped, run = ffmpeg_play(url, cdn)
    assert frames == long_title.frames, log_tail(run)
    assert run.returncode == 0, log_tail(run)
    after = {name: n for name, n in served(cdn).items() if name != stopped and n}
    assert after, "another edge served the rest of the title"


def route_url(server: HttpServer, name: str, query: str = "region=eu-west") -> str:
    """Where /play sends a plain player for `name` (master.m3u8 or manifest.mpd)."""
    play = f"{server.url}/play/{VIDEO_ID}/{name}?{query}"
    return urllib.parse.urljoin(play, fetch(play)[1]["location"])


def test_each_segment_is_redirected_to_an_edge_that_is_up(server: HttpServer, cdn: Services,
                                                          title: Title) -> None:
    segment = urllib.parse.urljoin(route_url(server, "master.m3u8"), "cmaf/360p/seg_00002.m4s")
    status, headers, _ = fetch(segment)
    first = headers["x-edge"]
    assert status == 302 and headers["cache-control"] == "no-store"
    assert fetch(headers["location"])[0] == 200
    cdn.cdn.stop_edge(first)
    status, headers, _ = fetch(segment)
    assert status == 302 and headers["x-edge"] != first
    assert cdn.cdn.edge(headers["x-edge"]).spec.region == REGION, "still steered for the viewer's region"
    assert fetch(headers["location"])[0] == 200


def test_the_router_serves_playlists_and_an_mpd_based_on_itself(server: HttpServer, cdn: Services,
                                                                title: Title) -> None:
    master = route_url(server, "master.m3u8")
    status, headers, body = fetch(master)
    assert status == 200 and body == cdn.store.read(f"videos/{VIDEO_ID}/master.m3u8")
    assert headers["content-type"].startswith("application/vnd.apple.mpegurl")
    mpd = route_url(server, "manifest.mpd")
    status, headers, body = fetch(mpd)
    assert status == 200 and headers["content-type"].startswith("application/dash+xml")
    base = ElementTree.fromstring(body).find("{urn:mpeg:dash:schema:mpd:2011}BaseURL")
    assert base is not None and base.text == mpd.rsplit("/", 1)[0] + "/"


def test_every_edge_down_is_a_503_that_says_so(server: HttpServer, cdn: Services, title: Title) -> None:
    segment = urllib.parse.urljoin(route_url(server, "master.m3u8"), "cmaf/360p/seg_00001.m4s")
    for edge in cdn.cdn.edges:
        cdn.cdn.stop_edge(edge)
    status, _, body = fetch(segment)
    assert status == 503 and "No edge is healthy" in json.loads(body)["message"]


def test_the_router_refuses_what_is_not_a_title_object(server: HttpServer, cdn: Services,
                                                       title: Title, data: DataDir) -> None:
    base = f"{server.url}/route/{VIDEO_ID}/region=eu-west"
    for path in ("%2e%2e/%2e%2e/catalog.sqlite", "..%2f..%2fkeys/edge.key", ".hidden/x.m3u8"):
        status, _, body = fetch(f"{base}/{path}")
        assert status in (403, 404), path
        assert str(data.root) not in body.decode() and b"SQLite" not in body
    assert fetch(f"{server.url}/route/{VIDEO_ID}/token=x/master.m3u8")[0] == 400
    assert fetch(f"{server.url}/route/nope/region=eu-west/master.m3u8")[0] == 404


def test_play_refuses_a_location_a_path_cannot_carry(server: HttpServer, cdn: Services, title: Title) -> None:
    status, _, body = fetch(f"{server.url}/play/{VIDEO_ID}/master.m3u8?session=a%2Fb%3Fc")
    assert status == 400 and "session" in json.loads(body)["message"]
    assert fetch(f"{server.url}/play/{VIDEO_ID}/master.m3u8?session=s-1.2&latlon=51.5,-0.1")[0] == 302


def vlc_frames(url: str, out: Path, services: Services | None = None) -> tuple[int, str]:
    """Real VLC in its own process reads `url` into `out`; with `services`, its edge is stopped
    mid-play. (video frames VLC wrote, the stopped edge or "")."""
    args = [sys.executable, "-m", "tests.http.vlc_remux", url, str(out)]
    stopped, before = "", served(services) if services is not None else {}
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=Path(__file__).resolve().parents[2]) as player:
        try:
            if services is not None:
                stopped = stop_serving_edge_between_transfers(player, services, before)
            state, log = player.communicate(timeout=120)
        finally:
            if player.poll() is None:
                player.kill()
    assert state.strip() == "Ended", log[-2000:]
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-count_packets",
                            "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(out)],
                           capture_output=True, text=True, timeout=60, check=True)
    return int(probe.stdout.split()[0]), stopped


@needs_sigstop
def test_vlc_reads_every_frame_when_its_edge_stops_mid_play(long_title: Made, data: DataDir,
                                                            server: HttpServer, cdn: Services,
                                                            tmp_path: Path) -> None:
    publish(data, long_title)
    url = f"{server.url}/play/{VIDEO_ID}/master.m3u8?region={REGION}"
    undisturbed, _ = vlc_frames(url, tmp_path / "undisturbed.ts")
    # VLC's TS remux leaves out the last few frames of any stream; what matters is that a stop loses none
    assert long_title.frames - FPS < undisturbed <= long_title.frames
    for edge in cdn.cdn.edges:
        cdn.cdn.throttle(edge, THROTTLE_MBPS)
    before = served(cdn)
    frames, stopped = vlc_frames(url, tmp_path / "stopped.ts", cdn)
    assert frames == undisturbed
    after = {name: n - before[name] for name, n in served(cdn).items() if name != stopped}
    assert any(after.values()), "another edge served the rest of the title"


def test_the_viewers_session_tag_reaches_the_edges_log(server: HttpServer, cdn: Services,
                                                        title: Title) -> None:
    """A player tags each load (`session=`); the edge's hit/miss event carries it, so the player can
    tell the edge serving this load from requests of a player it is still releasing."""
    play = f"{server.url}/play/{VIDEO_ID}/master.m3u8?region={REGION}&session=s1.2"
    master = urllib.parse.urljoin(play, fetch(play)[1]["location"])
    status, headers, _ = fetch(urllib.parse.urljoin(master, "cmaf/360p/seg_00001.m4s"))
    assert status == 302 and "session=s1.2" in headers["location"]
    assert fetch(headers["location"])[0] == 200
    untagged = fetch(urllib.parse.urljoin(route_url(server, "master.m3u8"), "cmaf/360p/seg_00002.m4s"))[1]
    assert "session=" not in untagged["location"] and fetch(untagged["location"])[0] == 200

    seen: dict[str, dict[str, object]] = {}

    def both_logged() -> bool:
        for event in cdn.events.poll("session-tag-test", ["cdn"], timeout=0.2):
            if event.value.get("type") in ("hit", "miss"):
                seen[str(event.value["object"]).rsplit("/", 1)[1]] = event.value
        return {"seg_00001.m4s", "seg_00002.m4s"} <= seen.keys()

    wait_for(both_logged, 10, "both requests in the cdn log")
    by_object = seen
    assert by_object["seg_00001.m4s"].get("session") == "s1.2"
    assert "session" not in by_object["seg_00002.m4s"]
