"""`python main.py serve`: binds loopback on a free port, prints it, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from server.catalog import Catalog
from server.errors import MiniflixError, ToolMissing
from server.events.log import open_event_log
from server.http.services import Services
from server.paths import DataDir
from server.storage.blobstore import LocalBlobStore
from tests.jobs.helpers import start_serve

ROOT = Path(__file__).resolve().parents[2]


def test_serve_prints_its_port_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc, url = start_serve(tmp_path, dict(os.environ))
    try:
        with urllib.request.urlopen(url + "/api/health", timeout=10) as response:
            health = json.load(response)
        assert health["ok"] and health["services"]["cdn"] and health["services"]["ingest"]
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Stopped." in rest


def test_serve_refuses_a_non_loopback_host(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "serve", "--data-dir", str(tmp_path),
                           "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 1 and "loopback" in done.stderr


def test_a_service_that_fails_to_start_stops_the_ones_already_running(data: DataDir) -> None:
    class Broken:
        def start(self) -> None:
            raise ToolMissing("ffmpeg is missing")

    services = Services(data=data, catalog=Catalog(data.catalog_db), store=LocalBlobStore(data.origin),
                        events=open_event_log(data), ingest=Broken())
    with pytest.raises(ToolMissing):
        services.start()
    assert services.started == [] and services.stopping.is_set()
    with pytest.raises(MiniflixError, match="closed"):
        services.events.publish("videos", "v", {"type": "deleted"})
