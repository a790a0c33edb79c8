"""The ABR lab on a real published title (ingested by the real pipeline): its segment sizes, the CLI
(`main.py lab abr`) and `GET /api/lab/abr` on a real waitress server."""

from __future__ import annotations

import csv
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from server.catalog import Catalog, Title
from server.errors import NotFound
from server.http.runner import HttpServer
from server.labs import abr
from server.labs.abr_manifest import load_ladder, spread
from server.paths import DataDir
from server.storage.blobstore import LocalBlobStore
from tests.http.conftest import VIDEO_ID
from tests.jobs.helpers import cli


def test_audio_bytes_are_shared_over_video_segments_by_time() -> None:
    # AAC segments end off the video boundaries: the last 0.5 s audio piece falls in the second span.
    assert spread([(1.5, 300), (0.5, 100)], (1.0, 1.0)) == (200, 200)
    assert spread([(1.0, 100), (1.0, 100), (0.1, 10)], (1.0, 1.0)) == (100, 110)


def test_the_ladder_holds_each_rungs_real_segment_sizes_plus_audio(data: DataDir, title: Title) -> None:
    ladder = load_ladder(Catalog(data.catalog_db), LocalBlobStore(data.origin), VIDEO_ID)
    cmaf = data.origin / "videos" / VIDEO_ID / "cmaf"
    audio = [p.stat().st_size for p in sorted((cmaf / "audio").glob("seg_*.m4s"))]
    assert [r.name for r in ladder.rungs] == ["240p", "360p"]           # lowest bitrate first
    for rung in ladder.rungs:
        video = [p.stat().st_size for p in sorted((cmaf / rung.name).glob("seg_*.m4s"))]
        assert len(rung.sizes) == len(video) and all(r > v for r, v in zip(rung.sizes, video, strict=True))
        assert sum(rung.sizes) == pytest.approx(sum(video) + sum(audio), abs=len(video))
    assert sum(ladder.durations) == pytest.approx(3.0, abs=0.1)
    session = abr.simulate(ladder, abr.synthetic("steady:50M", 1), "throughput")
    assert session.rungs[-1] == 1 and session.rebuffer_s == 0


def test_an_unknown_title_is_not_found(data: DataDir, title: Title) -> None:
    with pytest.raises(NotFound, match="No title 'nope'"):
        load_ladder(Catalog(data.catalog_db), LocalBlobStore(data.origin), "nope")


def test_cli_prints_json_and_writes_one_csv_row_per_session(data: DataDir, title: Title,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "abr.csv"
    done = cli("lab", "abr", "--data-dir", str(data.root), "--title", VIDEO_ID, "--trace", "steady:50M",
               "--algorithms", "throughput,bba", "--sessions", "3", "--json", "--csv", str(out))
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert [a["name"] for a in body["algorithms"]] == ["throughput", "bba"]
    assert body["qoe_weights"] == {"bitrate_mbps": 1.0, "rebuffer_s": -4.3, "switch_mbps": -1.0}
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6 and rows[0]["algorithm"] == "throughput" and float(rows[0]["rebuffer_s"]) == 0


def test_cli_table_and_its_errors(data: DataDir, title: Title, tmp_path: Path) -> None:
    done = cli("lab", "abr", "--data-dir", str(data.root), "--title", VIDEO_ID, "--trace", "steady:100k",
               "--algorithms", "bola", "--sessions", "2")
    assert done.returncode == 0, done.stderr
    assert "bola" in done.stdout and "No session ever picked 360p" in done.stdout
    done = cli("lab", "abr", "--data-dir", str(data.root), "--title", "nope")
    assert done.returncode == 1 and "No title 'nope'" in done.stderr
    cooked = tmp_path / "bus.log"
    cooked.write_text("0 0.05\n1 0.08\n2 0.04\n")          # seconds, Mbit/s: far below 240p
    done = cli("lab", "abr", "--data-dir", str(data.root), "--title", VIDEO_ID, "--trace", str(cooked),
               "--algorithms", "throughput", "--sessions", "2", "--json")
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)["algorithms"][0]["stats"]
    assert stats["rebuffer_s"]["p5"] > 0                        # every session stalls on this trace
    bad = tmp_path / "train.csv"
    bad.write_text("time_s,mbps\n0,1\n1,\n")
    done = cli("lab", "abr", "--data-dir", str(data.root), "--title", VIDEO_ID, "--trace", str(bad))
    assert done.returncode == 1 and "train.csv, line 3: column 2" in done.stderr


def get(server: HttpServer, **params: str) -> tuple[int, dict[str, Any]]:
    url = f"{server.url}/api/lab/abr?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_http_runs_the_lab_on_the_title_and_answers_clear_errors(server: HttpServer, title: Title,
                                                                 data: DataDir) -> None:
    status, body = get(server, title=VIDEO_ID, trace="mobile", sessions="4", algorithms="bba,dynamic")
    assert status == 200, body
    assert body["title"]["video_id"] == VIDEO_ID
    assert [a["name"] for a in body["algorithms"]] == ["bba", "dynamic"]      # in the order asked
    assert body["settings"]["sessions"] == 4 and len(body["algorithms"][0]["sample"]["timeline"]) == 3
    status, body = get(server, title="nope")
    assert status == 404 and str(data.root) not in json.dumps(body)
    status, body = get(server, title=VIDEO_ID, trace="/etc/passwd")
    assert status == 400 and "Unknown trace" in body["message"]
    status, body = get(server, title=VIDEO_ID, sessions="100000")
    assert status == 400 and "'sessions'" in body["message"]
    status, body = get(server)
    assert status == 400 and "'title'" in body["message"]
