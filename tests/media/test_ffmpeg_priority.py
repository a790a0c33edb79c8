"""ffmpeg runs at a lower CPU priority, so encodes on every core leave the studio responsive."""

from __future__ import annotations

import os
import subprocess

from server.media.ffmpeg import find_tools, run


def test_ffmpeg_processes_run_niced() -> None:
    seen: list[int] = []

    def started(proc: subprocess.Popen[bytes]) -> None:
        seen.append(os.getpriority(os.PRIO_PROCESS, proc.pid))

    tools = find_tools()
    run([tools.ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x64:duration=1",
         "-f", "null", "-"], "priority check", on_start=started)
    assert seen == [19]  # the default of the ffmpeg_nice setting
