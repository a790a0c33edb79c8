"""The per-test limit ends a test stuck in native code, with every thread's stack, even with the GIL held.

A child pytest runs with this project's own settings (pyproject.toml) and tiny limits on a test that
blocks for good on a pthread mutex it already holds, a wait that no signal interrupts. With the GIL
released, pytest-timeout's thread method ends it; with the GIL held (as a frozen QMediaPlayer.stop()
held it) pytest-timeout's timer thread never runs, and faulthandler's watchdog, a C thread, must.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 3           # the child's pytest-timeout limit
LAST_RESORT_S = 6       # the child's faulthandler limit
CHILD_GUARD_S = 120     # far above either: a child still running then is the hang this test forbids

STUCK_TEST = '''
import ctypes
import threading

MUTEX = ctypes.create_string_buffer(64)  # all zero bytes: glibc's PTHREAD_MUTEX_INITIALIZER


def helper_thread_waits(event):
    event.wait()


def test_blocks_in_native_code():
    threading.Thread(target=helper_thread_waits, args=(threading.Event(),), daemon=True).start()
    libc = ctypes.{loader}(None)
    libc.pthread_mutex_lock(MUTEX)
    libc.pthread_mutex_lock(MUTEX)  # the same thread again: blocks for good, signals or not
'''


def run_stuck_test(tmp_path: Path, loader: str) -> subprocess.CompletedProcess[str]:
    """Run the stuck test in a child pytest configured by pyproject.toml, with tiny limits."""
    test_file = tmp_path / "test_stuck.py"
    test_file.write_text(STUCK_TEST.format(loader=loader))
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml"),
            "--rootdir", str(tmp_path), f"--timeout={TIMEOUT_S}",
            "-o", f"faulthandler_timeout={LAST_RESORT_S}", str(test_file)]
    try:
        return subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=CHILD_GUARD_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a test stuck in native code ({loader}) was never ended: the suite would hang")


@pytest.mark.skipif(sys.platform != "linux", reason="the stuck test relies on glibc's mutex layout")
@pytest.mark.parametrize(("loader", "reporter"), [
    ("CDLL", "+ Timeout +"),      # ctypes.CDLL releases the GIL: pytest-timeout's thread reports
    ("PyDLL", "Timeout (0:00:"),  # ctypes.PyDLL keeps it: only faulthandler's watchdog can report
])
def test_a_test_stuck_in_native_code_ends_red_with_every_stack(tmp_path: Path, loader: str,
                                                               reporter: str) -> None:
    done = run_stuck_test(tmp_path, loader)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert reporter in output, output
    assert "test_blocks_in_native_code" in output and "helper_thread_waits" in output, output


def test_the_last_resort_limit_comes_after_pytest_timeout(pytestconfig: pytest.Config) -> None:
    """faulthandler ends the whole run, so it must leave pytest-timeout the first word when it can."""
    timeout = float(pytestconfig.getini("timeout"))
    assert float(pytestconfig.getini("faulthandler_timeout")) > timeout > 0
    assert pytestconfig.getini("faulthandler_exit_on_timeout") is True


DYING_TESTS = '''
import os
import signal


def test_passes():
    pass


def test_dies_in_the_middle():
    os.kill(os.getpid(), signal.SIGKILL)  # as faulthandler's exit or a crash in native code ends a run
'''


def run_child(tmp_path: Path, tests: str, *options: str) -> subprocess.CompletedProcess[str]:
    """A child pytest with this suite's last-words hooks (tests/last_words.py) on `tests`."""
    (tmp_path / "conftest.py").write_text("from tests.last_words import *  # noqa: F403\n")
    (tmp_path / "test_child.py").write_text(tests)
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path),
            *options, str(tmp_path / "test_child.py")]
    return subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=CHILD_GUARD_S,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_dying_run_names_the_running_test_in_its_last_lines(tmp_path: Path) -> None:
    done = run_child(tmp_path, DYING_TESTS)
    assert done.returncode != 0
    # captured to the end: the watcher shares the child's stderr, so reading stops only once it is gone
    last = done.stderr.strip().splitlines()[-2:]
    assert last and "died while running test_child.py::test_dies_in_the_middle" in last[0], done.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="the stuck test relies on glibc's mutex layout")
def test_a_run_ended_by_the_last_resort_limit_ends_with_the_tests_name_and_frames(tmp_path: Path) -> None:
    done = run_child(tmp_path, STUCK_TEST.format(loader="PyDLL"), "-o", f"faulthandler_timeout={TIMEOUT_S}",
                     "-o", "faulthandler_exit_on_timeout=true")
    assert done.returncode != 0
    tail = done.stderr.strip().splitlines()[-16:]
    assert "died while running test_child.py::test_blocks_in_native_code" in "\n".join(tail), done.stderr
    assert any("in test_blocks_in_native_code" in line for line in tail), done.stderr  # its frames, last
    assert "Timeout (0:00:" in done.stderr and "helper_thread_waits" in done.stderr  # and every thread


def test_a_run_that_ends_says_nothing_more(tmp_path: Path) -> None:
    done = run_child(tmp_path, "def test_passes():\n    pass\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "died" not in done.stdout + done.stderr
