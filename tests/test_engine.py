"""The composition root: backends chosen by URL settings through the registries, a bad setting
refused before any work starts, and a new backend added with one `register` call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import main
from server.backends import EVENT_LOGS, ORIGINS
from server.catalog import Title
from server.engine import Engine
from server.errors import MiniflixError
from server.events.api import VIDEOS
from server.events.log import EventLog
from server.jobs.store import JobStore
from server.paths import DataDir
from server.registry import BadSetting, Registry

ROOT = Path(__file__).resolve().parents[1]


class SideLog(EventLog):
    """A test-only event-log backend: the embedded log, kept in a file named by the URL."""


def open_side_log(url: str, data: DataDir) -> EventLog:
    return SideLog(data.root / f"{urlsplit(url).netloc}.sqlite")


def open_unreachable_log(url: str, data: DataDir) -> EventLog:
    raise MiniflixError("no server answers at 127.0.0.1:9", hint="start the cluster first")


@pytest.fixture
def side_backend() -> Iterator[None]:
    """`side://NAME` as an event-log backend, registered the way a new backend file would be."""
    EVENT_LOGS.register("side", "tests.test_engine:open_side_log")
    EVENT_LOGS.register("down", "tests.test_engine:open_unreachable_log")
    EVENT_LOGS.register("gone", "tests.no_such_backend:open_log", "`pip install miniflix-studio[gone]`")
    yield
    for scheme in ("side", "down", "gone"):
        EVENT_LOGS.backends.pop(scheme)


def videos_events(path: Path) -> int:
    with EventLog(path) as log:
        return sum(p.next_offset for p in log.describe() if p.topic == VIDEOS)


def test_a_registered_backend_is_what_a_command_publishes_to(
        tmp_path: Path, side_backend: None, monkeypatch: pytest.MonkeyPatch) -> None:
    data = DataDir.resolve(tmp_path / "d")
    Engine(data).catalog.add_published(Title(video_id="vside0000001", status="published", title="Old"))
    monkeypatch.setenv("MINIFLIX_EVENT_LOG", "side://elsewhere")
    assert main.main(["edit", "vside0000001", "--title", "New", "--data-dir", str(data.root)]) == 0
    assert videos_events(data.root / "elsewhere.sqlite") == 1
    assert not data.events_db.exists() or videos_events(data.events_db) == 0


def test_the_engine_builds_each_part_once_and_ingest_shares_them(tmp_path: Path) -> None:
    with Engine(DataDir.resolve(tmp_path / "d")) as engine:
        ingest = engine.ingest()
        assert (ingest.catalog, ingest.blobs, ingest.store, ingest.publisher) == (
            engine.catalog, engine.origin, engine.jobs, engine.events)
        assert engine.ingest_service().ingest.publisher is engine.events


@pytest.mark.parametrize("env, value, message", [
    ("MINIFLIX_EVENT_LOG", "kafka://x", "MINIFLIX_EVENT_LOG='kafka://x': unknown scheme 'kafka'; known: "
     "sqlite, nats (needs `pip install miniflix-studio[cluster]`)"),
    ("MINIFLIX_ORIGIN", "s3:/bucket", "MINIFLIX_ORIGIN='s3:/bucket': not a backend URL."),
    ("MINIFLIX_EXECUTOR", "local://127.0.0.1:8786", "MINIFLIX_EXECUTOR='local://127.0.0.1:8786': the local "
     "backend takes no location"),
])
def test_ingest_with_a_bad_backend_setting_exits_2_naming_it_and_creates_no_job(
        tmp_path: Path, make_clip, env: str, value: str, message: str) -> None:
    clip, data = make_clip(seconds=1), DataDir.resolve(tmp_path / "d")
    run = subprocess.run([sys.executable, "main.py", "ingest", str(clip), "--data-dir", str(data.root)],
                         cwd=ROOT, env={**os.environ, env: value}, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    assert not data.jobs_db.exists() or JobStore(data.jobs_db).list() == []
    assert not any(data.origin.rglob("*.m4s")) and not any(data.work.iterdir())


@pytest.mark.parametrize("argv", [["videos"], ["events"], ["search", "cats"], ["serve"]])
def test_every_command_refuses_a_bad_setting_before_it_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        argv: list[str]) -> None:
    monkeypatch.setenv("MINIFLIX_ORIGIN", "file://elsewhere")
    assert main.main([*argv, "--data-dir", str(tmp_path / "d")]) == 2
    assert "MINIFLIX_ORIGIN='file://elsewhere': the file backend takes no location" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_a_backend_whose_module_is_missing_says_it_is_not_in_this_build(
        tmp_path: Path, side_backend: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MINIFLIX_EVENT_LOG", "gone://h:1")
    assert main.main(["events", "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "MINIFLIX_EVENT_LOG='gone://h:1': the gone backend is not available in this build" in err
    assert "needs `pip install miniflix-studio[gone]`" in err


def test_a_backend_that_cannot_start_stops_ingest_before_any_job_naming_the_setting(
        tmp_path: Path, side_backend: None, make_clip, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = DataDir.resolve(tmp_path / "d")
    monkeypatch.setenv("MINIFLIX_EVENT_LOG", "down://127.0.0.1:9")
    assert main.main(["ingest", str(make_clip(seconds=1)), "--data-dir", str(data.root)]) == 2
    assert ("MINIFLIX_EVENT_LOG='down://127.0.0.1:9': no server answers at 127.0.0.1:9 (start the "
            "cluster first)") in capsys.readouterr().err
    assert not data.jobs_db.exists() or JobStore(data.jobs_db).list() == []


@pytest.mark.parametrize("argv", [["events"], ["serve"], ["search", "cats"], ["analytics", "views"],
                                  ["edit", "vnone0000001", "--title", "x"]])
def test_every_command_reports_a_backend_that_cannot_start_as_a_bad_setting(
        tmp_path: Path, side_backend: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    if argv[0] == "edit":
        Engine(DataDir.resolve(tmp_path / "d")).catalog.add_published(
            Title(video_id="vnone0000001", status="published", title="Old"))
    monkeypatch.setenv("MINIFLIX_EVENT_LOG", "down://127.0.0.1:9")
    assert main.main([*argv, "--data-dir", str(tmp_path / "d")]) == 2
    assert "MINIFLIX_EVENT_LOG='down://127.0.0.1:9': no server answers" in capsys.readouterr().err


def test_a_url_keeps_its_location_and_query() -> None:
    registry: Registry[object] = Registry("MINIFLIX_THING")
    registry.register("nats", "server.events.nats_log:open_nats_log")
    url = registry.parse("nats://127.0.0.1:4222,127.0.0.1:4223?stream=videos")
    assert (url.scheme, url.location, url.query) == ("nats", "127.0.0.1:4222,127.0.0.1:4223",
                                                     {"stream": "videos"})
    with pytest.raises(BadSetting, match=r"unknown scheme 'kafka'; known: nats$"):
        registry.parse("kafka")


def test_the_default_backends_import_no_cluster_client(tmp_path: Path) -> None:
    code = ("import json, sys, main; main.main(['videos', '--data-dir', sys.argv[1]]); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('nats', 'boto3', 'botocore', 'dask', 'distributed') or m == 'server.events.nats_log')))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_a_shown_setting_masks_credentials() -> None:
    url = EVENT_LOGS.parse("nats://alice:s3cret@127.0.0.1:4222?token=abc&stream_replicas=3")
    assert url.shown == "nats://***@127.0.0.1:4222?token=***&stream_replicas=3"
    assert "s3cret" not in url.shown and "abc" not in url.shown
    assert ORIGINS.parse("file").shown == "file"
