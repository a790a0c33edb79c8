"""Real players through /play: ffmpeg decodes every frame, VLC plays, hls.js survives an edge stop."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from server.catalog import Title
from server.http.runner import HttpServer
from server.http.services import Services
from server.paths import DataDir
from tests.http.browser import Browser
from tests.http.conftest import RUNGS, VIDEO_ID, Made, publish


@pytest.mark.parametrize("rung", [0, 1])
def test_ffmpeg_decodes_every_frame_of_a_rung_through_play(server: HttpServer, cdn: Services, title: Title,
                                                           short_title: Made, rung: int) -> None:
    url = f"{server.url}/play/{VIDEO_ID}/master.m3u8?region=eu-west"
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostats", "-progress", "pipe:1", "-i", url,
                          "-map", f"0:v:{rung}", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60, check=True)
    frames = int(re.findall(r"^frame=(\d+)$", out.stdout, re.M)[-1])
    assert frames == short_title.frames, out.stderr
    width = RUNGS[rung][1]
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", f"v:{rung}", "-show_entries",
                            "stream=width", "-of", "csv=p=0", url],
                           capture_output=True, text=True, timeout=60)
    assert str(width) in probe.stdout.split()
    assert any(edge["hits"] + edge["misses"] for edge in cdn.cdn.health()), "no edge served the player"


def wait_for(predicate: object, timeout: float, what: str) -> None:
    """Poll `predicate` until true; fail naming `what` when it never becomes true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def test_vlc_plays_through_play_and_its_position_advances(server: HttpServer, cdn: Services,
                                                          title: Title) -> None:
    import vlc

    instance = vlc.Instance("--aout=dummy", "--vout=dummy", "--no-video-title-show", "--quiet")
    player = instance.media_player_new(f"{server.url}/play/{VIDEO_ID}/master.m3u8?region=ap-southeast")
    try:
        player.play()
        wait_for(lambda: player.get_time() > 0, 30, "VLC to start playing")
        first = player.get_time()
        wait_for(lambda: player.get_time() >= first + 500 or player.get_state() == vlc.State.Ended, 30,
                 "VLC's position to advance")
        assert player.get_state() != vlc.State.Error
        assert player.get_time() > first or player.get_state() == vlc.State.Ended
    finally:
        player.stop()
        player.release()
        instance.release()
    served = {h["name"]: h["hits"] + h["misses"] for h in cdn.cdn.health()}
    region = {e.name: e.region for e in cdn.cdn.topology.edges}
    assert region[max(served, key=served.__getitem__)] == "ap-southeast"


def test_hls_js_in_chromium_keeps_playing_when_its_edge_stops(long_title: Made, data: DataDir,
                                                              server: HttpServer, cdn: Services,
                                                              client: FlaskClient, tmp_path: Path) -> None:
    publish(data, long_title)
    cdn.steering.manifest_ttl_s = 1  # the page reloads the steering manifest every second
    page = f"{server.url}/web/player.html?v={VIDEO_ID}&region=eu-west&session=chrome-1&maxbuf=2"
    browser = Browser(page, tmp_path / "chromium-profile")
    try:
        report = lambda: client.get("/web/report/chrome-1").get_json() or {}  # noqa: E731
        wait_for(lambda: report().get("currentTime", 0) >= 1.0 and report().get("pathway"), 60,
                 "hls.js to start playing from an edge")
        first = report()
        assert first["supported"] and first["fatal"] is None
        assert set(first["pathways"]) == {e["name"] for e in cdn.cdn.health()}
        client.post(f"/api/edges/{first['pathway']}/stop")
        stopped_at = report()["currentTime"]
        wait_for(lambda: report()["currentTime"] >= stopped_at + 4 or report()["ended"], 60,
                 "playback to continue after the edge stopped")
        wait_for(lambda: first["pathway"] not in report()["pathwayPriority"], 20,
                 "the reloaded steering manifest to drop the stopped edge")
        after = report()
    finally:
        browser.close()
    assert after["fatal"] is None
    others = {p: n for p, n in after["fragmentsByPathway"].items() if p != first["pathway"]}
    assert others and after["pathway"] != first["pathway"], after
    kinds = {e.value["type"] for e in cdn.events.poll("check", ["playback"], max_events=1000, timeout=1)}
    assert {"started", "segment"} <= kinds, "the page posts its playback telemetry"
