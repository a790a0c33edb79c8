"""Last words: when the test run dies (a hang ended by faulthandler, a crash in native code, a kill),
say which test was running and where its main thread was, as the very last lines of the output.

CI keeps only the tail of a red run's output, and faulthandler prints the main thread last, from its
outermost frame (pytest's runner) down: the test's own name and frames scrolled out of view. So:

- a small watcher process, started with the session, is told each test's start and end over a pipe;
- faulthandler's last-resort dump (`faulthandler_timeout`, re-armed here for each test) goes to a file
  instead of stderr;
- if the pipe closes without "done", the run died: the watcher prints that file (every thread's stack,
  as faulthandler wrote it), then the test that was running, for how long, and the innermost frames
  of its main thread, on the same stderr, after the dying process's own output.
"""

from __future__ import annotations

import faulthandler
import os
import subprocess
import sys
import tempfile
import time
from typing import IO

import pytest

WATCHER = r'''
import os, sys, time
dump_path = sys.argv[1]
running, since = None, 0.0
for line in sys.stdin:
    verb, _, nodeid = line.rstrip("\n").partition(" ")
    if verb == "start":
        running, since = nodeid, time.monotonic()
    elif verb == "end":
        running = None
    elif verb == "done":
        sys.exit(0)
try:
    with open(dump_path, encoding="utf-8", errors="replace") as f:
        dump = f.read()
    os.unlink(dump_path)
except OSError:
    dump = ""
blocks = [b for b in dump.strip().split("\n\n") if "most recent call first" in b]
innermost = blocks[-1].splitlines()[:13] if blocks else []   # the main thread is faulthandler's last
out = [dump.rstrip(), ""] if dump.strip() else []
if running is not None:
    out.append("=== the test run died while running %s (started %.0f s before) ===" % (
        running, time.monotonic() - since))
else:
    out.append("=== the test run died between tests ===")
if innermost:
    out.append("=== where its main thread was (innermost first): ===")
    out += innermost
sys.stderr.write("\n" + "\n".join(out) + "\n")
sys.stderr.flush()
'''

_pipe: IO[str] | None = None
_dump: IO[str] | None = None
_dump_path = ""
_watcher_key = pytest.StashKey["subprocess.Popen[str]"]()
_config: pytest.Config | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _config
    _config = config


def _tell(line: str) -> None:
    if _pipe is None:
        return
    try:
        _pipe.write(line + "\n")
        _pipe.flush()
    except (BrokenPipeError, ValueError):  # the watcher is gone: nothing left to tell
        pass


def pytest_sessionstart(session: pytest.Session) -> None:
    global _pipe, _dump, _dump_path
    if session.config.getoption("collectonly", False):
        return
    fd, _dump_path = tempfile.mkstemp(prefix="pytest-last-words-", suffix=".txt")
    _dump = os.fdopen(fd, "w")
    watcher = subprocess.Popen([sys.executable, "-c", WATCHER, _dump_path], stdin=subprocess.PIPE, text=True,
                               stdout=subprocess.DEVNULL, start_new_session=True)
    _pipe = watcher.stdin
    session.config.stash[_watcher_key] = watcher


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _tell(f"start {nodeid}")
    _arm_last_resort()


def _arm_last_resort() -> None:
    """Re-arm the timer pytest's faulthandler plugin armed for this test (same limit, same exit),
    writing the dump to our file: faulthandler has one timer, and the last call sets it."""
    config = _config
    if _dump is None or config is None:
        return
    timeout = float(config.getini("faulthandler_timeout") or 0)
    if timeout > 0:
        faulthandler.dump_traceback_later(timeout, exit=bool(config.getini("faulthandler_exit_on_timeout")),
                                          file=_dump)


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _tell(f"end {nodeid}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _pipe, _dump
    watcher = session.config.stash.get(_watcher_key, None)
    if watcher is None or _pipe is None or _dump is None:
        return
    faulthandler.cancel_dump_traceback_later()
    _tell("done")
    _pipe.close()
    _pipe = None
    deadline = time.monotonic() + 5
    while watcher.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if watcher.poll() is None:
        watcher.kill()
    _dump.close()
    _dump = None
    os.unlink(_dump_path)
