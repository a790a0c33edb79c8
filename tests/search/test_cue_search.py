"""Search inside what is said, end to end with real files: titles ingested by `main.py ingest` with
sidecar subtitles, found by `main.py search --in subtitles` (typos too) and by the HTTP route of a
real `main.py serve`, at the right moment; a failed ingest leaves no cues behind, and deleting a
title removes its cues."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import generate_clip
from tests.jobs.helpers import cli, json_lines, start_serve

BRIDGE = ("1\n00:00:01,000 --> 00:00:02,500\nWho is there?\n\n"
          "2\n00:00:05,200 --> 00:00:07,000\nMeet me at the bridge at dawn.\n")
HARBOUR = ("1\n00:00:02,000 --> 00:00:03,000\nThe harbour sleeps.\n\n"
           "2\n00:00:06,000 --> 00:00:08,000\nNo bridge, no dawn, only fog.\n")
QUIET = {"MINIFLIX_QUALITY_MEASURE": "0"}


def ingest(data: Path, clip: Path) -> dict[str, Any]:
    run = cli("ingest", str(clip), "--data-dir", str(data), "--json", env=QUIET)
    [result] = json_lines(run.stdout)
    return result


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Two published titles with English sidecars and one failed ingest whose sidecar says the phrase."""
    folder = tmp_path_factory.mktemp("said")
    data = folder / "d"
    ids = {}
    for name, srt in (("bridge", BRIDGE), ("harbour", HARBOUR)):
        clip = generate_clip(folder / f"{name}.mp4", seconds=9, size="160x90")
        (folder / f"{name}.en.srt").write_text(srt, encoding="utf-8")
        result = ingest(data, clip)
        assert result["status"] == "published", result["error"]
        ids[name] = result["video_id"]
    broken = folder / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    said = "1\n00:00:01,000 --> 00:00:02,000\nthe bridge at dawn\n"
    (folder / "broken.srt").write_text(said, encoding="utf-8")
    assert ingest(data, broken)["status"] == "failed"
    return data, ids


def search(data: Path, *args: str) -> str:
    run = cli("search", *args, "--in", "subtitles", "--data-dir", str(data))
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_a_phrase_finds_the_title_and_the_moment_it_is_said(library: tuple[Path, dict[str, str]]) -> None:
    data, ids = library
    found = json.loads(search(data, '"bridge at dawn"', "--json"))
    assert [h["video_id"] for h in found["hits"]] == [ids["bridge"]]  # not the harbour, not the failed one
    [moment] = found["hits"][0]["moments"]
    assert (moment["start"], moment["end"], moment["at"]) == (5.2, 7.0, "0:05")
    assert moment["text"] == "Meet me at the bridge at dawn."
    assert 'term1">bridge</mark>' in moment["snippet"] and moment["language"] == "en"


def test_words_anywhere_in_a_cue_find_every_title_and_the_plain_output_shows_the_moments(
        library: tuple[Path, dict[str, str]]) -> None:
    data, _ = library
    out = search(data, "bridge dawn")
    assert out.splitlines()[0] == "2 title(s)"
    assert '0:05  "Meet me at the bridge at dawn."' in out and '0:06  "No bridge, no dawn, only fog."' in out


def test_a_typo_still_finds_what_was_said(library: tuple[Path, dict[str, str]]) -> None:
    data, ids = library
    found = json.loads(search(data, "harbuor", "--json"))
    moments = [(h["video_id"], [m["at"] for m in h["moments"]]) for h in found["hits"]]
    assert moments == [(ids["harbour"], ["0:02"])]
    assert "Nothing said matches." in search(data, "zeppelin")


def get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:
        found: dict[str, Any] = json.load(response)
    return found


def test_http_search_in_subtitles_and_a_deleted_title_takes_its_cues_along(
        library: tuple[Path, dict[str, str]]) -> None:
    data, ids = library
    proc, url = start_serve(data, dict(os.environ))
    try:
        query = url + "/api/search?" + urllib.parse.urlencode({"in": "subtitles", "q": "bridge"})
        assert sorted(h["video_id"] for h in get(query)["hits"]) == sorted(ids.values())
        request = urllib.request.Request(f"{url}/api/titles/{ids['harbour']}", method="DELETE")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        deadline = time.monotonic() + 60  # the indexer follows the event log: wait for the deletion
        while len(hits := get(query)["hits"]) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [h["video_id"] for h in hits] == [ids["bridge"]]
        for bad in ("in=lyrics&q=bridge", "in=subtitles&q=bridge&offset=1.5",
                    "in=subtitles&q=bridge&sort=best", "in=subtitles"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                get(f"{url}/api/search?{bad}")
            assert refused.value.code == 400, bad
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_a_damaged_subtitle_index_is_built_again_from_the_library(
        library: tuple[Path, dict[str, str]]) -> None:
    data, ids = library
    tocs = list((data / "search-cues").glob("*.toc"))
    assert tocs
    for toc in tocs:
        toc.write_bytes(b"not an index")
    found = json.loads(search(data, "meet", "--json"))
    assert [h["video_id"] for h in found["hits"]] == [ids["bridge"]]
