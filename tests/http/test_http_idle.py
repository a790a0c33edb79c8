"""An idle server sleeps: its waitress loop waits in select() instead of spinning a core, and still
stops at once."""

from __future__ import annotations

import time

import psutil
from flask import Flask

from server.http.runner import HttpServer

IDLE_S = 2.0


def thread_cpu_s(native_id: int) -> float:
    thread = next(t for t in psutil.Process().threads() if t.id == native_id)
    return thread.user_time + thread.system_time


def test_an_idle_server_does_not_keep_a_core_busy() -> None:
    server = HttpServer(Flask(__name__)).start()
    try:
        loop_id = server._thread.native_id
        assert loop_id is not None
        before = thread_cpu_s(loop_id)
        time.sleep(IDLE_S)
        used = thread_cpu_s(loop_id) - before
    finally:
        began = time.monotonic()
        server.stop()
        stopped_in = time.monotonic() - began
    # Spinning, the loop used about one CPU-second per second here; asleep, a few milliseconds.
    assert used < 0.25 * IDLE_S, f"the idle loop used {used:.2f} CPU-s in {IDLE_S} s"
    assert not server._thread.is_alive() and stopped_in < 5
