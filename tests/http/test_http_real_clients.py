"""Real players through /play: ffmpeg decodes every frame, VLC plays, hls.js survives an edge stop,
and dash.js and hls.js in Chromium show every rung from its first frame to its last."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from server.catalog import Title
from server.engine import Engine
from server.http.runner import HttpServer
from server.http.services import Services
from server.jobs.pipeline import IngestOptions
from server.paths import DataDir
from tests.conftest import generate_clip
from tests.http.browser import Browser
from tests.http.conftest import FPS, RUNGS, VIDEO_ID, Made, publish

FRAME = 1 / FPS


@pytest.fixture(scope="session")
def default_title(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A 4 s title (2 s segments) from the real ingest with the default x264 preset: B-frames, so its
    video track starts with a composition delay that an edit list removes, as every real title does."""
    out = tmp_path_factory.mktemp("title4-default")
    clip = generate_clip(out / "source.mp4", seconds=4, size="640x360", fps=FPS)
    data = DataDir.resolve(out / "data")
    options = IngestOptions.from_settings(workers=2, segment_seconds=2.0, retries=0, min_chunk_seconds=1.0)
    with Engine(data) as engine:
        ingest = engine.ingest(options)
        job = ingest.run(ingest.create_job(clip))
    assert job.state == "published", job.error
    return Made(data.origin / "videos" / job.video_id, 4, 4 * FPS, tuple(job.result["renditions"]))


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


def play_in_chromium(server: HttpServer, client: FlaskClient, page: str, session: str, tmp_path: Path,
                     seconds: float, **query: str) -> dict:
    """Open /web/`page` in headless Chromium until its video has played to `seconds` (or failed);
    the page's last report. Played, not `ended`: dash.js may leave the element paused on the last
    frame without ending the MediaSource, which a user cannot tell apart from the end."""
    url = f"{server.url}/web/{page}?{urllib.parse.urlencode({'v': VIDEO_ID, 'session': session, **query})}"
    report = lambda: client.get(f"/web/report/{session}").get_json() or {}  # noqa: E731
    browser = Browser(url, tmp_path / "chromium-profile")
    try:
        deadline = time.monotonic() + 90
        while not ((last := report()).get("ended") or last.get("fatal") or _played_to(last, seconds)):
            if time.monotonic() > deadline:
                pytest.fail(f"{page} did not play to the end within 90 s; its last report: {last}")
            time.sleep(0.2)
        return last
    finally:
        browser.close()


def _played_to(report: dict, seconds: float) -> bool:
    played = report.get("media", {}).get("played") or [[0, 0]]
    return played[-1][1] >= seconds - FRAME - 0.01


def video_files(report: dict) -> list[str]:
    """`<rung>/<file>` of every video file the page fetched (init and segments), in fetch order."""
    found = [re.search(r"/cmaf/([^/]+/[^/]+)$", path) for path in report["media"]["mediaFiles"]]
    return [m[1] for m in found if m and not m[1].startswith("audio/")]


@pytest.mark.parametrize("page", ["dash.html", "player.html"])
@pytest.mark.parametrize("rung", [r[0] for r in RUNGS])
def test_chromium_shows_every_rung_from_its_first_frame_to_its_last(
        default_title: Made, data: DataDir, server: HttpServer, cdn: Services, client: FlaskClient,
        tmp_path: Path, page: str, rung: str) -> None:
    """dash.js (MPD) and hls.js (HLS) with one rung forced: the video track is buffered and shown from
    0 s, every frame is decoded, and playback runs without a jump to the end of the title."""
    publish(data, default_title)
    report = play_in_chromium(server, client, page, f"{page.split('.')[0]}-{rung}", tmp_path,
                              default_title.seconds, region="eu-west", steering="0", rung=rung)
    assert report["fatal"] is None, report
    media = report["media"]
    fetched = video_files(report)
    segments = sorted({f for f in fetched if f.endswith(".m4s")})
    assert {f.split("/")[0] for f in fetched} == {rung}, f"the page fetched other rungs: {fetched}"
    assert segments == [f"{rung}/seg_{n:05d}.m4s" for n in range(1, 3)], fetched
    video = next(b for b in media["sourceBuffers"] if b["mime"].startswith("video/"))
    audio = next(b for b in media["sourceBuffers"] if b["mime"].startswith("audio/"))
    assert video["earliestStart"] <= 0.1, f"the video track starts at {video['earliestStart']:.3f} s: {media}"
    assert audio["earliestStart"] <= 0.1, f"the audio track starts at {audio['earliestStart']:.3f} s: {media}"
    assert video["latestEnd"] >= default_title.seconds - FRAME - 0.01, f"the video track ends early: {media}"
    assert media["decodedFrames"] == default_title.frames, f"frames decoded: {media}"
    played = media["played"]
    assert len(played) == 1 and played[0][0] <= 0.1, f"playback jumped: played ranges {played}"
    assert _played_to(report, default_title.seconds), f"playback stopped early: {played}"


@pytest.mark.parametrize("manifest", ["manifest.mpd", "master.m3u8"])
def test_ffmpeg_reads_every_rung_from_0_s_with_every_frame_over_dash_and_hls(
        default_title: Made, data: DataDir, server: HttpServer, cdn: Services, manifest: str) -> None:
    """ffmpeg applies the edit lists as browsers do: through either manifest every rung's first frame
    is at 0 s, every frame is there, and the audio starts with it (its priming hidden before 0)."""
    publish(data, default_title)
    url = f"{server.url}/play/{VIDEO_ID}/{manifest}?region=eu-west"
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_entries",
                          "stream=codec_type,width,start_time,nb_read_packets", "-count_packets", url],
                         capture_output=True, text=True, timeout=60, check=True)
    streams = json.loads(out.stdout)["streams"]
    video = {s["width"]: s for s in streams if s["codec_type"] == "video"}
    assert sorted(video) == sorted(r[1] for r in RUNGS)
    for stream in video.values():
        assert float(stream["start_time"]) == 0.0, stream
        assert int(stream["nb_read_packets"]) == default_title.frames, stream
    (audio,) = [s for s in streams if s["codec_type"] == "audio"]
    assert -0.03 < float(audio["start_time"]) <= 0.0, audio  # one AAC frame of priming at most
