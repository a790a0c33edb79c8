"""Real clients on a title with an H.264 and an AV1 ladder (issue 19 §3), through /play: ffmpeg decodes
every frame of each AV1 rung, VLC (dav1d) plays the AV1 ladder, and hls.js in Chromium picks the AV1
variants where MediaSource decodes AV1 and the H.264 ones where it does not."""

from __future__ import annotations

import itertools
import re
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from server.engine import Engine
from server.http.runner import HttpServer
from server.http.services import Services
from server.jobs.pipeline import IngestOptions
from server.paths import DataDir
from tests.conftest import generate_clip
from tests.http.browser import Browser
from tests.http.conftest import FPS, VIDEO_ID, Made, publish

SECONDS = 3
LADDER = ["360p", "240p", "360p-av1", "240p-av1"]


@pytest.fixture(scope="session")
def av1_title(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A 3 s 640x360 title from the real ingest with `codecs = h264,av1` (1 s segments, 3 chunks)."""
    out = tmp_path_factory.mktemp("title-av1")
    clip = generate_clip(out / "source.mp4", seconds=SECONDS, size="640x360", fps=FPS)
    data = DataDir.resolve(out / "data")
    options = IngestOptions(workers=2, segment_seconds=1.0, retries=0, preset="ultrafast",
                            min_chunk_seconds=1.0, codecs=("h264", "av1"))
    with Engine(data) as engine:
        ingest = engine.ingest(options)
        job = ingest.run(ingest.create_job(clip))
    assert job.state == "published", job.error
    assert [r["name"] for r in job.result["renditions"]] == LADDER
    folder = data.origin / "videos" / job.video_id
    return Made(folder, SECONDS, SECONDS * FPS, tuple(job.result["renditions"]))


def master_url(server: HttpServer) -> str:
    return f"{server.url}/play/{VIDEO_ID}/master.m3u8?region=eu-west&steering=0"


@pytest.mark.parametrize("rung", ["360p-av1", "240p-av1"])
def test_ffmpeg_decodes_every_frame_of_an_av1_rung_through_play(
        data: DataDir, server: HttpServer, cdn: Services, av1_title: Made, rung: str) -> None:
    publish(data, av1_title)
    index = LADDER.index(rung)
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostats", "-progress", "pipe:1",
                          "-i", master_url(server), "-map", f"0:v:{index}", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120, check=True)
    assert int(re.findall(r"^frame=(\d+)$", out.stdout, re.M)[-1]) == av1_title.frames, out.stderr
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", f"v:{index}", "-show_entries",
                            "stream=codec_name,height", "-of", "csv=p=0", master_url(server)],
                           capture_output=True, text=True, timeout=60, check=True)
    assert probe.stdout.split()[0] == f"av1,{rung.split('p')[0]}"


def av1_variant(master: str) -> str:
    """The absolute URL of the first AV1 variant of the master playlist at `master`."""
    with urllib.request.urlopen(master, timeout=30) as response:  # /play redirects to the router
        base, lines = response.geturl(), response.read().decode().splitlines()
    for inf, uri in itertools.pairwise(lines):
        if inf.startswith("#EXT-X-STREAM-INF:") and 'CODECS="av01.' in inf:
            return urllib.parse.urljoin(base, uri)
    raise AssertionError(f"no AV1 variant in {lines}")


def test_vlc_plays_the_av1_ladder_to_its_end(data: DataDir, server: HttpServer, cdn: Services,
                                             av1_title: Made) -> None:
    """VLC (its dav1d decoder) plays the top AV1 variant that /play's master names, start to end."""
    import vlc

    publish(data, av1_title)
    url = av1_variant(master_url(server))
    instance = vlc.Instance("--aout=dummy", "--vout=dummy", "--no-video-title-show", "--quiet")
    player = instance.media_player_new()
    media = instance.media_new(url)
    player.set_media(media)
    player.play()
    try:
        deadline, decoded, stats = time.monotonic() + 60, 0, vlc.MediaStats()
        while player.get_state() not in (vlc.State.Ended, vlc.State.Error) and time.monotonic() < deadline:
            if media.get_stats(stats):  # VLC clears its counters when the input ends
                decoded = max(decoded, stats.decoded_video)
            time.sleep(0.05)
        state = player.get_state()
    finally:
        player.stop()
        player.release()
        instance.release()
    assert state == vlc.State.Ended, f"VLC stopped in state {state}"
    assert decoded >= av1_title.frames * 0.9, f"VLC decoded {decoded} frames of {url}"


def probe_in_chromium(server: HttpServer, client: FlaskClient, tmp_path: Path, session: str,
                      **query: str) -> dict:
    """Open codec_probe.html until its video ended (or failed); the page's last report."""
    url = f"{server.url}/web/codec_probe.html?" + urllib.parse.urlencode(
        {"v": VIDEO_ID, "session": session, "region": "eu-west", **query})
    browser = Browser(url, tmp_path / "chromium-profile")
    try:
        deadline = time.monotonic() + 90
        while not ((last := client.get(f"/web/report/{session}").get_json() or {}).get("ended")
                   or last.get("fatal")):
            if time.monotonic() > deadline:
                pytest.fail(f"codec_probe.html did not end within 90 s; its last report: {last}")
            time.sleep(0.2)
        return last
    finally:
        browser.close()


def test_hls_js_in_chromium_picks_the_av1_variants_where_av1_decodes(
        data: DataDir, server: HttpServer, cdn: Services, client: FlaskClient, tmp_path: Path,
        av1_title: Made) -> None:
    publish(data, av1_title)
    report = probe_in_chromium(server, client, tmp_path, "codec-av1")
    assert report["supportedHere"]["av1"], "Debian's Chromium decodes AV1 in MSE (dav1d)"
    assert report["fatal"] is None, report
    assert {level["rung"] for level in report["levels"]} == set(LADDER)
    rungs = {fragment["rung"] for fragment in report["fragments"]}
    assert rungs and all(rung.endswith("-av1") for rung in rungs), report["fragments"]
    assert report["media"]["decodedFrames"] == av1_title.frames, report["media"]


def test_hls_js_in_chromium_falls_back_to_h264_where_av1_does_not_decode(
        data: DataDir, server: HttpServer, cdn: Services, client: FlaskClient, tmp_path: Path,
        av1_title: Made) -> None:
    publish(data, av1_title)
    report = probe_in_chromium(server, client, tmp_path, "codec-h264", av1="0")
    assert report["fatal"] is None, report
    assert {level["rung"] for level in report["levels"]} == {"360p", "240p"}
    rungs = {fragment["rung"] for fragment in report["fragments"]}
    assert rungs and rungs <= {"360p", "240p"}, report["fragments"]
    assert report["media"]["decodedFrames"] == av1_title.frames, report["media"]
