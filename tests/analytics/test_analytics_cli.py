"""`miniflix analytics` in its own process: with no server it loads pending events itself; with a
server holding the DuckDB file it answers from a snapshot copy."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from pathlib import Path

import duckdb

from server.analytics.service import AnalyticsService
from server.events.log import EventLog
from server.paths import DataDir
from tests.analytics.conftest import publish_scenario
from tests.jobs.helpers import cli as main_cli


def cli(data: DataDir, *args: str) -> subprocess.CompletedProcess[str]:
    """`main.py analytics …` for real, in a subprocess."""
    return main_cli("analytics", *args, "--data-dir", str(data.root))


def test_cli_without_server_loads_pending_events_and_prints(data: DataDir, log: EventLog) -> None:
    publish_scenario(log)
    text = cli(data, "title_engagement")
    assert text.returncode == 0, text.stderr
    assert "video_id" in text.stdout and "(2 rows)" in text.stdout
    as_json = json.loads(cli(data, "title_engagement", "--format", "json").stdout)
    assert {r["video_id"]: r["views"] for r in as_json} == {"v1": 2, "v2": 1}


def test_cli_exports_parquet_with_parameters(data: DataDir, log: EventLog, tmp_path: Path) -> None:
    publish_scenario(log)
    out = tmp_path / "v1.parquet"
    done = cli(data, "qoe_by_title", "--param", "video_id=v1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "wrote 1 rows" in done.stderr
    with duckdb.connect() as conn:
        rows = conn.execute("SELECT video_id, sessions FROM read_parquet($p)", {"p": str(out)}).fetchall()
    assert rows == [("v1", 2)]


def test_cli_prints_csv_with_a_header(data: DataDir, log: EventLog) -> None:
    publish_scenario(log)
    done = cli(data, "views", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert list(csv.DictReader(io.StringIO(done.stdout))) == [{"video_id": "v1", "views": "2"},
                                                             {"video_id": "v2", "views": "1"}]


def test_cli_refuses_parquet_on_stdout(data: DataDir, log: EventLog) -> None:
    publish_scenario(log)
    done = cli(data, "views", "--format", "parquet")
    assert done.returncode == 1 and "give --out PATH" in done.stderr and done.stdout == ""


def test_cli_reads_a_snapshot_while_the_server_holds_the_file(data: DataDir, log: EventLog) -> None:
    server = AnalyticsService(data, log)
    server.start()
    try:
        publish_scenario(log)
        deadline = time.monotonic() + 30
        while server.views() != {"v1": 2, "v2": 1} and time.monotonic() < deadline:
            time.sleep(0.05)
        done = cli(data, "views", "--format", "json")
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert {r["video_id"]: r["views"] for r in json.loads(done.stdout)} == {"v1": 2, "v2": 1}


def test_cli_rebuild_replays_the_log_into_the_same_numbers(data: DataDir, log: EventLog) -> None:
    publish_scenario(log)
    before = json.loads(cli(data, "qoe_by_edge", "--format", "json").stdout)
    rebuilt = cli(data, "qoe_by_edge", "--format", "json", "--rebuild")
    assert rebuilt.returncode == 0 and "rebuilt from the log" in rebuilt.stderr
    assert json.loads(rebuilt.stdout) == before and before


def test_cli_names_an_unknown_query_and_fails(data: DataDir) -> None:
    done = cli(data, "most_popular_cats")
    assert done.returncode == 1
    assert "No analytics query named 'most_popular_cats'" in done.stderr and "library_overview" in done.stderr
