"""The server's optional lake archiver (setting `lake_archive`, default off), built by the services'
real wiring: on, events published while the server runs reach the lake; off, there is no archiver."""

from __future__ import annotations

import time

import pytest

from server.analytics import lake
from server.analytics.lake_archiver import lake_dir
from server.engine import Engine
from server.http.services import build_services
from server.paths import DataDir
from tests.analytics.conftest import publish_scenario
from tests.analytics.test_lake import lake_rows, log_rows


def test_the_server_archives_to_the_lake_when_asked(data: DataDir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIFLIX_LAKE_ARCHIVE", "1")
    services = build_services(Engine(data)).start()
    try:
        assert services.describe()["lake"] is True
        assert services.events is not None
        publish_scenario(services.events)
        deadline = time.monotonic() + 60  # (edges publish cdn events of their own: watch playback)
        while lake_rows(lake_dir(data), "playback") != log_rows(services.events, "playback"):
            assert time.monotonic() < deadline, "the server's archiver did not archive the playback events"
            time.sleep(0.1)
        heads = services.events.heads(["playback"])
    finally:
        services.stop()
    recorded = lake.read_checkpoint(lake_dir(data))
    assert {s: o for s, o in recorded.items() if s[0] == "playback"} == {s: o for s, o in heads.items() if o}

def test_no_archiver_by_default(data: DataDir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MINIFLIX_LAKE_ARCHIVE", raising=False)
    services = build_services(Engine(data))
    try:
        assert services.lake is None and services.describe()["lake"] is False
    finally:
        services.stop()
        if services.events is not None:
            services.events.close()
