"""`miniflix events` in its own process: partitions with offsets and each group's lag."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from server.events.log import open_event_log
from server.paths import DataDir
from tests.jobs.helpers import cli as main_cli


def cli(data: DataDir, *args: str) -> subprocess.CompletedProcess[str]:
    """`main.py events …` for real, in a subprocess."""
    return main_cli("events", *args, "--data-dir", str(data.root))


def test_events_command_shows_offsets_and_lags(tmp_path: Path) -> None:
    data = DataDir.resolve(tmp_path / "data")
    assert "The event log is empty." in cli(data).stdout
    with open_event_log(data) as log:
        for i in range(5):
            log.publish("videos", "vid-1", {"type": "uploaded", "video_id": "vid-1", "at": i})
        log.commit("search", log.poll("search", ["videos"], max_events=3, timeout=0))
    text = cli(data)
    assert text.returncode == 0 and "videos" in text.stdout and "search=2" in text.stdout
    [row] = [r for r in json.loads(cli(data, "--json").stdout) if r["next_offset"]]
    assert (row["topic"], row["earliest"], row["next_offset"], row["kept"], row["lags"]) == \
        ("videos", 0, 5, 5, {"search": 2})
