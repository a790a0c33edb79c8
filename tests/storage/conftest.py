"""A real SeaweedFS server (S3 gateway) on loopback for the S3 origin's tests, one per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from server.cluster.seaweed import SeaweedServer


def weed_processes(folder: Path) -> list[psutil.Process]:
    """The `weed` processes started on `folder` that are still alive."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            argv = " ".join(proc.info["cmdline"] or [])
            if "weed" in (proc.info["name"] or "") and str(folder) in argv:
                found.append(proc)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    folder = tmp_path_factory.mktemp("seaweed")
    server = SeaweedServer(folder)
    try:
        yield server.start()
    finally:
        server.stop()
        assert weed_processes(folder) == [], "weed processes outlived the tests"
