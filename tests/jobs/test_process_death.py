"""Nothing outlives its job: when the process running an ingest is killed with SIGKILL (no handler
runs), its ffmpeg encodes die with it instead of running to the end of their chunks."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.jobs.helpers import popen_cli


def encoders_of(pid: int) -> list[psutil.Process]:
    """The x264 encodes among `pid`'s descendants."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "libx264" in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def running(proc: psutil.Process) -> bool:
    """Still executing (a killed process that nobody has reaped yet counts as gone)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until(predicate, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_killing_an_ingest_with_sigkill_takes_its_ffmpeg_processes_with_it(
        tmp_path: Path, make_clip) -> None:
    clip = make_clip("long.mp4", seconds=20, size="640x360")
    # veryslow: every chunk encodes for far longer than the test waits after the kill
    cli = popen_cli("ingest", str(clip), "--data-dir", str(tmp_path / "d"), "--workers", "2",
                    env={"MINIFLIX_X264_PRESET": "veryslow"})
    encoders: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while not encoders and cli.poll() is None and time.monotonic() < deadline:
            encoders = encoders_of(cli.pid)
            time.sleep(0.05)
        assert encoders, "the ingest never started an encode"
        encoders += [p for p in encoders_of(cli.pid) if p not in encoders]
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait()
        wait_until(lambda: not any(running(p) for p in encoders), 10)
        survivors = [p.pid for p in encoders if running(p)]
        assert not survivors, f"ffmpeg {survivors} kept encoding for a job whose process is gone"
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
            cli.wait()
        for proc in leftovers(tmp_path):  # only a failing run leaves any
            proc.kill()


def leftovers(tmp_path: Path) -> list[psutil.Process]:
    """Processes still working on this test's files."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(tmp_path) in arg for arg in proc.info["cmdline"] or []) and running(proc):
            found.append(proc)
    return found
