"""One writer per Whoosh index, whatever else runs in the process or on the machine: commits made
while something reseeds the process-wide `random` (as Hypothesis does for every example), a batch
that meets another process's write lock, and a damaged-looking index while another process writes.
Real Whoosh files, the real event log, the real HTTP app on loopback."""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.catalog import Catalog
from server.errors import Conflict
from server.events.log import EventLog, open_event_log
from server.http.app import create_app
from server.http.runner import HttpServer
from server.http.services import Services
from server.paths import DataDir
from server.search import index
from server.search.documents import document
from server.search.service import SearchService
from server.storage.blobstore import LocalBlobStore, title_prefix
from tests.search.conftest import Publish

WAIT_S = 30.0  # how long a change may take to reach the index before the test gives up


def ids(service: SearchService, q: str) -> list[str]:
    return sorted(hit["video_id"] for hit in service.search(q, limit=100).hits)


def wait_for(found: Callable[[], bool]) -> bool:
    """Whether `found()` came true before WAIT_S (the indexer runs in its own thread)."""
    deadline = time.monotonic() + WAIT_S
    while not found() and time.monotonic() < deadline:
        time.sleep(0.05)
    return found()


def assert_whole(data: DataDir, log: EventLog, catalog: Catalog, expected: dict[str, str]) -> None:
    """A fresh service opens the index as it is (not rebuilt) and finds every title by its words."""
    reopened = SearchService(data, log, catalog)
    assert not reopened.rebuilt, "the index was damaged"
    index.check(reopened._ix)
    for video_id, word in expected.items():
        assert ids(reopened, word) == [video_id]


def test_commits_after_the_process_random_is_reseeded_keep_every_title(
        data: DataDir, log: EventLog, catalog: Catalog, publish: Publish) -> None:
    service = SearchService(data, log, catalog)
    expected = {f"c{i}": f"comet{i}" for i in range(4)}
    for video_id, word in expected.items():
        random.seed(0)  # what Hypothesis does before each example, in the thread that runs it
        publish(video_id, f"A {word} tonight")
        service.catch_up()
    assert ids(service, "tonight") == sorted(expected)
    assert_whole(data, log, catalog, expected)


@pytest.fixture
def live(data: DataDir, publish: Publish) -> Iterator[tuple[str, Services]]:
    """The real app on waitress with its search indexer following the log, over three titles."""
    for video_id in ("cats", "dogs", "owls"):
        publish(video_id, f"{video_id.title()} at home")
    events = open_event_log(data)
    services = Services(data=data, catalog=Catalog(data.catalog_db), store=LocalBlobStore(data.origin),
                        events=events)
    services.search = SearchService(data, events, services.catalog)
    staging = services.store.staging_dir("owls")  # files to trash when the title is deleted
    (staging / "master.m3u8").write_text("#EXTM3U\n")
    services.store.publish_dir(staging, title_prefix("owls"))
    services.start()
    try:
        with HttpServer(create_app(services), on_stop=services.stopping) as running:
            yield running.url, services
    finally:
        services.stop()


def call(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(base + path, method=method, headers={"Content-Type": "application/json"},
                                     data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def searched(base: str, q: str) -> list[tuple[str, str]]:
    hits = call(base, "GET", "/api/search?" + urllib.parse.urlencode({"q": q}))["hits"]
    return sorted((hit["video_id"], hit["title"]) for hit in hits)


def test_edits_through_the_api_while_hypothesis_runs_all_reach_the_index(
        live: tuple[str, Services], data: DataDir, log: EventLog, catalog: Catalog) -> None:
    base, _ = live
    titles = {"cats": "Cats at home", "dogs": "Dogs at home", "owls": "Owls at home"}

    @settings(max_examples=8, derandomize=True, database=None, deadline=None)
    @given(video_id=st.sampled_from(sorted(titles)))
    def edit(video_id: str) -> None:  # Hypothesis seeds `random` alike for every example
        word = f"edit{len(edits)}"
        edits.append(word)
        titles[video_id] = f"{video_id.title()} {word}"
        call(base, "PATCH", f"/api/titles/{video_id}", {"title": titles[video_id]})
        assert wait_for(lambda: searched(base, word) == [(video_id, titles[video_id])])

    edits: list[str] = []
    edit()
    call(base, "DELETE", "/api/titles/owls")
    assert wait_for(lambda: searched(base, "owls") == [])
    assert searched(base, "cats dogs") == [] and len(searched(base, "cats OR dogs")) == 2
    assert_whole(data, log, catalog, {vid: titles[vid].split()[-1] for vid in ("cats", "dogs")})


HOLD_LOCK = """
import sys
from whoosh import index
writer = index.open_dir(sys.argv[1], indexname="titles").writer()
print("locked", flush=True)
sys.stdin.read()
writer.cancel()
"""


def test_a_batch_that_meets_another_writer_is_retried_from_the_offset(
        data: DataDir, log: EventLog, catalog: Catalog, publish: Publish,
        caplog: pytest.LogCaptureFixture) -> None:
    publish("cats", "Cats at home")
    service = SearchService(data, log, catalog)
    service.catch_up()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(data.search_index)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with caplog.at_level(logging.WARNING, logger="server.search.service"):
            service.start()
            publish("owls", "Owls at night")
            assert wait_for(lambda: "being written by another process" in caplog.text)
            assert ids(service, "owls") == []
        holder.communicate("")  # the other process lets go of the index
        assert wait_for(lambda: ids(service, "owls") == ["owls"])
    finally:
        service.stop()
        holder.kill()
        holder.wait()
    assert_whole(data, log, catalog, {"cats": "cats", "owls": "owls"})


def test_an_index_that_looks_damaged_is_not_rebuilt_under_another_writer(
        data: DataDir, log: EventLog, catalog: Catalog, publish: Publish) -> None:
    publish("cats", "Cats at home")
    SearchService(data, log, catalog).catch_up()
    writer = index.open_index(data.search_index, catalog)[0].writer()  # another writer, mid-commit
    writer.add_document(**document({"video_id": "owls", "title": "Owls at night"}))
    [toc] = data.search_index.glob("_titles_*.toc")
    hidden = toc.rename(toc.with_suffix(".hidden"))  # what a reader may see for a moment
    with pytest.raises(Conflict, match="being written by another process"):
        SearchService(data, log, catalog)
    hidden.rename(toc)
    writer.commit()
    reopened = SearchService(data, log, catalog)
    assert not reopened.rebuilt and ids(reopened, "cats") == ["cats"] and ids(reopened, "owls") == ["owls"]

