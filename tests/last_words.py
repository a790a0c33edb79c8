"""Last words: when the test run dies (a hang ended by faulthandler, a crash in native code, a kill),
say which test was running, as the very last lines of the output.

CI keeps only the tail of a red run's output, and faulthandler prints the main thread last, from its
outermost frame (pytest's runner) down: the test's own name scrolled out of view. A small watcher
process, started with the session, is told each test's start and end over a pipe; if the pipe
closes without "done", the run died, and the watcher names the test that was running and for how
long. It writes to the same stderr, after the dying process's own output.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import IO

import pytest

WATCHER = r'''
import sys, time
running, since = None, 0.0
for line in sys.stdin:
    verb, _, nodeid = line.rstrip("\n").partition(" ")
    if verb == "start":
        running, since = nodeid, time.monotonic()
    elif verb == "end":
        running = None
    elif verb == "done":
        sys.exit(0)
if running is not None:
    sys.stderr.write("\n=== the test run died while running %s (started %.0f s before) ===\n"
                     "=== its threads' stacks, if any were printed, are above ===\n"
                     % (running, time.monotonic() - since))
else:
    sys.stderr.write("\n=== the test run died between tests ===\n")
sys.stderr.flush()
'''

_pipe: IO[str] | None = None
_watcher_key = pytest.StashKey["subprocess.Popen[str]"]()


def _tell(line: str) -> None:
    if _pipe is None:
        return
    try:
        _pipe.write(line + "\n")
        _pipe.flush()
    except (BrokenPipeError, ValueError):  # the watcher is gone: nothing left to tell
        pass


def pytest_sessionstart(session: pytest.Session) -> None:
    global _pipe
    if session.config.getoption("collectonly", False):
        return
    watcher = subprocess.Popen([sys.executable, "-c", WATCHER], stdin=subprocess.PIPE, text=True,
                               stdout=subprocess.DEVNULL, start_new_session=True)
    _pipe = watcher.stdin
    session.config.stash[_watcher_key] = watcher


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _tell(f"start {nodeid}")


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _tell(f"end {nodeid}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _pipe
    watcher = session.config.stash.get(_watcher_key, None)
    if watcher is None or _pipe is None:
        return
    _tell("done")
    _pipe.close()
    _pipe = None
    deadline = time.monotonic() + 5
    while watcher.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if watcher.poll() is None:
        watcher.kill()

