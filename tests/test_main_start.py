"""`make run` without a display: it says so, serves, ingests the demo clip and it plays via /play."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 240) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} in output:\n" + "\n".join(lines))


def test_headless_start_serves_and_plays_the_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(MINIFLIX_SAMPLE_SECONDS="4", MINIFLIX_DATA_DIR=str(tmp_path / "d"))
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    try:
        lines = read_until(proc, "ffplay ")
        assert "no display found" in lines[0]
        url = lines[-1].split("ffplay ", 1)[1]
        probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                                "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", url],
                               capture_output=True, text=True, timeout=120)
        assert probe.stdout.split()[0] == "120", probe.stderr  # 4 s at 30 fps, through an edge
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Stopped." in out
