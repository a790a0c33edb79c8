"""Helpers for CLI ingest tests: run `main.py` for real, read the event log, fake-failing ffmpeg."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from server.events.log import EventLog
from server.paths import DataDir

ROOT = Path(__file__).resolve().parents[2]


# Short test clips still split into several chunks, so seams, resume and retries are exercised.
CHUNKY = {"MINIFLIX_MIN_CHUNK_SECONDS": "1"}


def cli(*args: str, env: dict[str, str] | None = None,
        timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **CHUNKY, **(env or {})}, cwd=ROOT)


def popen_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `main.py` in its own session, so a test can kill it and everything it started."""
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True,
                            env={**os.environ, **CHUNKY, **(env or {})})


def start_serve(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`main.py serve` on a free port with exactly `env`; returns the process and its URL once it
    listens (stdout and stderr merged, so a failure to start shows in the assertion)."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "serve", "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**env, "PYTHONUNBUFFERED": "1"}, cwd=ROOT)
    lines: list[str] = []
    while not any("listening on" in line for line in lines):
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            proc.kill()
            raise AssertionError(f"serve exited before listening: {''.join(lines)}")
        lines.append(line)
    url = re.search(r"http://127\.0\.0\.1:\d+", "".join(lines))
    assert url, lines
    return proc, url.group(0)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def events(data_dir: Path, topic: str) -> list[dict[str, Any]]:
    """Every event of `topic` so far, read by a fresh consumer group."""
    log = EventLog(DataDir.resolve(data_dir).events_db)
    group, found = f"test-{uuid.uuid4().hex}", []
    try:
        while batch := log.poll(group, [topic], 1000, timeout=0.2):
            found += [e.value for e in batch]
    finally:
        log.close()
    return found


def failing_ffmpeg(tmp_path: Path, marker: str, failures: int) -> dict[str, str]:
    """An ffmpeg wrapper that fails the first `failures` commands writing `marker`, like a crash.

    The real ffmpeg does everything else; only the retry logic under test sees the failures.
    """
    counter = tmp_path / "failures"
    counter.write_text("0")
    script = tmp_path / "ffmpeg"
    script.write_text(f"""#!{sys.executable}
import os, sys
args = " ".join(sys.argv[1:])
if {marker!r} in args:
    n = int(open({str(counter)!r}).read())
    if n < {failures}:
        open({str(counter)!r}, "w").write(str(n + 1))
        sys.stderr.write("x264 [error]: simulated encoder crash in {marker}\\n")
        sys.exit(1)
os.execv("/usr/bin/ffmpeg", ["ffmpeg", *sys.argv[1:]])
""")
    script.chmod(0o755)
    return {"MINIFLIX_FFMPEG": str(script)}


@contextmanager
def mounted_small_disk(disk: Path) -> Iterator[Path]:
    """A real 20 MB file system (tmpfs) mounted at `disk`; skips the test where mounting is refused
    (it needs root, or CAP_SYS_ADMIN), and unmounts after it."""
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a small real filesystem is needed and mounting a tmpfs was refused here "
                    f"({mounted.stderr.strip()}); run as root to include this test")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill `disk` with a file until only `leave` bytes are free (0: until writes fail)."""
    filler = disk / f"filler-{time.monotonic_ns()}"
    with filler.open("wb") as out:
        try:
            while (free := free_bytes(disk)) > leave:
                out.write(b"\0" * min(1 << 20, max(4096, free - leave)))
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize
