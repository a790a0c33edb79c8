"""`main.py cluster up|status|down` starts real engines as processes that outlive the command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.cluster.process import pid_alive

ROOT = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT_S = 180


def cluster(data: Path, action: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run `main.py cluster ACTION --data-dir data` as a user would, in its own process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIFLIX_")}
    argv = [sys.executable, str(ROOT / "main.py"), "cluster", action, "--data-dir", str(data), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, env=env, cwd=ROOT)


def up_json(data: Path, *extra: str) -> dict[str, Any]:
    run = cluster(data, "up", "--json", *extra)
    assert run.returncode == 0, run.stderr
    doc: dict[str, Any] = json.loads(run.stdout)
    return doc


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose cluster is always stopped at the end, whatever the test did."""
    yield tmp_path
    cluster(tmp_path, "down")


def wait_gone(pids: list[int], timeout_s: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if pid_alive(p)]


def test_up_prints_settings_status_sees_every_engine_and_down_stops_them(data: Path) -> None:
    doc = up_json(data)
    assert doc["started"] is True
    settings = doc["settings"]
    assert settings["MINIFLIX_EVENT_LOG"].startswith("nats://127.0.0.1:")
    assert len(settings["MINIFLIX_EVENT_LOG"].split(",")) == 3
    assert settings["MINIFLIX_ORIGIN"].startswith("s3://miniflix?endpoint=http://127.0.0.1:")
    assert settings["AWS_ACCESS_KEY_ID"] and settings["AWS_SECRET_ACCESS_KEY"]
    assert settings["MINIFLIX_EXECUTOR"].startswith("dask://127.0.0.1:")
    pids = [m["pid"] for m in doc["members"]]
    assert len(pids) == 7 and all(pid_alive(p) for p in pids), "the engines outlive `cluster up`"

    shell = cluster(data, "up")
    assert shell.returncode == 0 and "already running" in shell.stderr
    assert f"export MINIFLIX_EVENT_LOG={settings['MINIFLIX_EVENT_LOG']}" in shell.stdout.splitlines()

    status = cluster(data, "status", "--json")
    assert status.returncode == 0, status.stdout
    assert [m["healthy"] for m in json.loads(status.stdout)["members"]] == [True] * 7

    down = cluster(data, "down")
    assert down.returncode == 0 and "Stopped 7" in down.stdout
    assert wait_gone(pids) == []
    weed_ports = next(m["ports"] for m in doc["members"] if m["name"] == "seaweedfs")
    assert not [p for p in Path("/tmp").glob("seaweedfs-*.sock")
                if p.stem.rsplit("-", 1)[-1] in {str(v) for v in weed_ports.values()}], "sockets left in /tmp"
    after = cluster(data, "status")
    assert after.returncode == 1 and "No cluster recorded" in after.stdout


def test_a_dead_node_shows_in_status_and_up_starts_the_cluster_afresh(data: Path) -> None:
    first = up_json(data)
    node = next(m for m in first["members"] if m["name"] == "nats-n2")
    os.kill(node["pid"], signal.SIGKILL)
    assert wait_gone([node["pid"]]) == []
    status = cluster(data, "status")
    assert status.returncode == 1
    line = next(x for x in status.stdout.splitlines() if x.startswith("nats-n2"))
    assert line.endswith("stopped")
    again = up_json(data)
    assert again["started"] is True
    assert wait_gone([m["pid"] for m in first["members"]]) == [], "the half-dead cluster was stopped first"
    assert json.loads(cluster(data, "status", "--json").stdout)["healthy"] is True


def test_up_with_spark_runs_a_named_query_on_the_standalone_master(data: Path) -> None:
    """`cluster up --spark` adds a Spark master and worker; its setting sends `--engine spark` there."""
    doc = up_json(data, "--spark")
    master = doc["settings"]["MINIFLIX_SPARK_MASTER"]
    assert master.startswith("spark://127.0.0.1:")
    names = {m["name"] for m in doc["members"]}
    assert {"spark-master", "spark-worker"} <= names
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIFLIX_")}
    env["MINIFLIX_SPARK_MASTER"] = master
    archive = subprocess.run([sys.executable, str(ROOT / "main.py"), "analytics", "archive", "--once",
                              "--data-dir", str(data)], capture_output=True, text=True, timeout=300, env=env,
                             cwd=ROOT)
    assert archive.returncode == 0, archive.stderr
    query = subprocess.run([sys.executable, str(ROOT / "main.py"), "analytics", "views", "--engine", "spark",
                            "--format", "json", "--data-dir", str(data)], capture_output=True, text=True,
                           timeout=300, env=env, cwd=ROOT)
    assert query.returncode == 0, query.stderr
    assert json.loads(query.stdout) == []   # an empty library: the same answer DuckDB gives
    spark_master = next(m for m in doc["members"] if m["name"] == "spark-master")
    with urllib.request.urlopen(spark_master["health_url"], timeout=10) as reply:
        apps = json.load(reply)["completedapps"]
    assert [a["name"] for a in apps] == ["miniflix-analytics"], "the query ran on the standalone master"
    status = json.loads(cluster(data, "status", "--json").stdout)
    assert status["healthy"] is True and len(status["members"]) == 9

