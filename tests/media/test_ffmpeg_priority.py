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


def test_a_command_someone_waits_on_keeps_the_normal_priority() -> None:
    """The first-start sample clip: at nice 19 on a busy machine it outlasted the studio's request."""
    seen: list[int] = []
    tools = find_tools()
    run([tools.ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x64:duration=1",
         "-f", "null", "-"], "priority check", background=False,
        on_start=lambda proc: seen.append(os.getpriority(os.PRIO_PROCESS, proc.pid)))
    assert seen == [os.getpriority(os.PRIO_PROCESS, 0)]  # the server's own


def test_extra_threads_run_only_on_spare_cores() -> None:
    """A tail chunk's frame threads must not take the core of the single-threaded chunk beside it."""
    seen: list[int] = []
    tools = find_tools()
    run([tools.ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x64:duration=1",
         "-f", "null", "-"], "priority check", spare_cores=True,
        on_start=lambda proc: seen.append(os.sched_getscheduler(proc.pid)))
    assert seen == [os.SCHED_IDLE]
