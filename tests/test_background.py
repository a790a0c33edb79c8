"""The background worker the engine's followers share: one thread however often started, stopped
for good by `stop()`, and startable again."""

from __future__ import annotations

import threading
import time

from server.background import Worker


def _counting_worker() -> tuple[Worker, list[str], threading.Event]:
    entered: list[str] = []
    running = threading.Event()
    worker: Worker

    def loop() -> None:
        entered.append(threading.current_thread().name)
        running.set()
        worker.stopping.wait()

    worker = Worker("test-worker", loop)
    return worker, entered, running


def test_starting_twice_runs_one_loop_and_stop_ends_it() -> None:
    worker, entered, running = _counting_worker()
    worker.start()
    assert running.wait(10)
    worker.start()
    assert worker.running
    worker.stop()
    assert entered == ["test-worker"]
    assert not worker.running
    worker.stop()  # idempotent


def test_a_stopped_worker_starts_again() -> None:
    worker, entered, running = _counting_worker()
    worker.start()
    assert running.wait(10)
    worker.stop()
    running.clear()
    worker.start()
    assert running.wait(10)
    assert worker.running
    worker.stop()
    assert entered == ["test-worker", "test-worker"]


def test_a_worker_whose_loop_ended_starts_again_without_a_stop() -> None:
    """The lake archiver's loop ends on an error; starting it again must run a new loop."""
    runs: list[int] = []
    worker = Worker("test-once", lambda: runs.append(1))
    worker.start()
    while worker.running:  # the loop returns at once
        time.sleep(0.01)
    worker.start()
    worker.stop()
    assert runs == [1, 1]
