"""The lake survives a kill -9 of the archiver mid-write: every visible file is whole, and after a
restart every event of the log is in the lake exactly once (a real `main.py analytics archive`)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import duckdb

from server.analytics import lake
from server.events.log import EventLog
from server.paths import DataDir
from tests.analytics.lake_scenario import publish_generated
from tests.analytics.test_lake import lake_rows, log_rows
from tests.jobs.helpers import cli, popen_cli

SMALL_BATCHES = {"MINIFLIX_LAKE_BATCH": "150"}  # many batches, many files: a kill lands mid-write


def kill_once_files_appear(data: DataDir, path: Path, files_seen: int) -> None:
    """Start the archiver, SIGKILL it once `files_seen` more files are visible than before."""
    before = sum(len(lake.all_parts(path, t)) for t in lake.TOPICS)
    archiver = popen_cli("analytics", "archive", "--data-dir", str(data.root), env=SMALL_BATCHES)
    deadline = time.monotonic() + 120
    while sum(len(lake.all_parts(path, t)) for t in lake.TOPICS) < before + files_seen:
        assert archiver.poll() is None, archiver.communicate()
        assert time.monotonic() < deadline, "the archiver wrote too few files"
        time.sleep(0.05)
    os.killpg(archiver.pid, signal.SIGKILL)
    archiver.communicate(timeout=30)
    assert archiver.returncode == -signal.SIGKILL


def assert_visible_files_whole(path: Path) -> None:
    """Each visible file opens and holds exactly the log range its name says (of one partition)."""
    for topic in lake.TOPICS:
        for part in lake.visible_parts(path, topic):
            got = duckdb.execute(f"SELECT MIN(log_offset), MAX(log_offset), COUNT(DISTINCT log_partition), "
                             f"MIN(log_partition) FROM read_parquet('{part.path}')").fetchall()[0]
            assert got == (part.first, part.last, 1, part.partition), part.path


def test_kill_9_mid_write_loses_and_doubles_nothing(data: DataDir, log: EventLog) -> None:
    published = publish_generated(log, sessions=1200)
    path = data.root / "lake"
    for files_seen in (25, 60):  # two crashes, the second after a restart that swept the first
        kill_once_files_appear(data, path, files_seen)
        assert_visible_files_whole(path)
        assert sum(lake.read_checkpoint(path).values()) < published, "the archiver had finished"
    done = cli("analytics", "archive", "--once", "--data-dir", str(data.root))
    assert done.returncode == 0, done.stderr
    for topic in lake.TOPICS:
        assert lake_rows(path, topic) == log_rows(log, topic), topic
    assert not list(path.rglob(".*.tmp"))
    assert sum(lake.read_checkpoint(path).values()) == published

