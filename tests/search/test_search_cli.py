"""`miniflix search` and `miniflix edit` in their own processes, on a real data dir."""

from __future__ import annotations

import json
import subprocess
import time

from server.catalog import Catalog
from server.events.log import EventLog
from server.paths import DataDir
from server.search.service import SearchService
from tests.jobs.helpers import cli as main_cli


def cli(data: DataDir, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`main.py COMMAND …` for real, in a subprocess."""
    return main_cli(command, *args, "--data-dir", str(data.root))


def test_search_cli_finds_published_titles_without_a_server(data: DataDir, library: None) -> None:
    done = cli(data, "search", "catz", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["hits"][0]["video_id"] == "cats" and "tags" in result["facets"]
    text = cli(data, "search", "dgos")
    assert text.returncode == 0 and 'Did you mean "dogs"?' in text.stdout


def test_an_empty_library_sorted_by_views_says_so(data: DataDir) -> None:
    done = cli(data, "search", "", "--sort", "views")
    assert done.returncode == 0, done.stderr
    assert "No titles found." in done.stdout


def test_edit_publishes_and_the_index_follows(data: DataDir, library: None) -> None:
    edited = cli(data, "edit", "dogs", "--title", "Puppies ahoy", "--tags", "Puppies, Boats")
    assert edited.returncode == 0, edited.stderr
    [hit] = json.loads(cli(data, "search", "puppies", "--json").stdout)["hits"]
    assert (hit["video_id"], hit["title"], hit["tags"]) == ("dogs", "Puppies ahoy", ["puppies", "boats"])
    assert json.loads(cli(data, "search", "tag:sea", "--json").stdout)["hits"] == []


def test_running_server_index_follows_a_cli_edit(data, log: EventLog, catalog: Catalog, library) -> None:
    server = SearchService(data, log, catalog)
    server.catch_up()
    server.start()
    try:
        assert cli(data, "edit", "cats", "--description", "Felines orbiting Jupiter").returncode == 0
        deadline = time.monotonic() + 30
        while not server.search("jupiter").hits and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [h["video_id"] for h in server.search("jupiter").hits] == ["cats"]
        while_running = cli(data, "search", "jupiter", "--json")  # reads while the server writes
    finally:
        server.stop()
    assert [h["video_id"] for h in json.loads(while_running.stdout)["hits"]] == ["cats"]


def test_edit_errors_are_clear(data: DataDir, library: None) -> None:
    missing = cli(data, "edit", "nope", "--title", "x")
    assert missing.returncode == 1 and "No title 'nope'" in missing.stderr
    nothing = cli(data, "edit", "cats")
    assert nothing.returncode == 1 and "Nothing to change" in nothing.stderr
    bad_facet = cli(data, "search", "cats", "--facet", "colour")
    assert bad_facet.returncode == 1 and "NAME=VALUE" in bad_facet.stderr
