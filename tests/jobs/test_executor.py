"""The executor retries a failing task, and one that keeps failing stops the rest of the job."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from server.errors import JobError
from server.jobs.executor import LocalExecutor, TaskSpec
from server.media.progress import ProgressUpdate


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def started(self, name: str, attempt: int) -> None:
        self.events.append(("started", name))

    def progress(self, name: str, update: ProgressUpdate) -> None:
        self.events.append(("progress", name))

    def done(self, name: str, wall_s: float) -> None:
        self.events.append(("done", name))

    def failed(self, name: str, error: str, attempt: int, final: bool) -> None:
        self.events.append(("final" if final else "failed", name))


def flaky(failures: int) -> TaskSpec:
    calls = Counter[str]()

    def run(on_progress, stop, threads) -> None:  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] <= failures:
            raise JobError(f"ffmpeg exited 1 (attempt {calls['n']})")
        on_progress(ProgressUpdate(1.0, 25, 1.0, True))
    return TaskSpec("chunk-0001", 1.0, run)


def test_a_task_that_fails_twice_succeeds_on_the_third_attempt() -> None:
    rec = Recorder()
    outcome = LocalExecutor(2, retries=2).run_all([flaky(2)], rec, threading.Event())
    assert outcome.done == ["chunk-0001"] and outcome.retries == 2 and not outcome.failed
    assert [e for e, _ in rec.events].count("started") == 3


def test_a_task_that_keeps_failing_fails_the_batch_and_stops_the_others() -> None:
    def slow(on_progress, stop, threads) -> None:  # type: ignore[no-untyped-def]
        stop.wait(5)

    stop = threading.Event()
    began = time.monotonic()
    outcome = LocalExecutor(2, retries=1).run_all([flaky(9), TaskSpec("chunk-0002", 1, slow)],
                                                   Recorder(), stop)
    assert outcome.failed == {"chunk-0001": "ffmpeg exited 1 (attempt 2)"}
    assert stop.is_set() and time.monotonic() - began < 4


def test_a_stop_is_not_counted_as_a_failure() -> None:
    stop = threading.Event()

    def killed(on_progress, stop_, threads) -> None:  # type: ignore[no-untyped-def]
        stop.set()
        raise JobError("ffmpeg killed")

    outcome = LocalExecutor(1).run_all([TaskSpec("chunk-0003", 1, killed)], Recorder(), stop)
    assert outcome.stopped == ["chunk-0003"] and not outcome.failed


def test_tasks_get_one_thread_while_others_wait_and_every_core_once_the_queue_is_empty() -> None:
    """The last tasks of an encode spread over the cores the drained pool would leave idle."""
    started: list[tuple[str, int]] = []
    lock = threading.Lock()

    def task(name: str, light: bool = False) -> TaskSpec:
        def run(on_progress, stop, threads) -> None:  # type: ignore[no-untyped-def]
            with lock:
                started.append((name, threads))
            time.sleep(0.05)
        return TaskSpec(name, 1.0, run, light)

    outcome = LocalExecutor(2, side_by_side=2).run_all(
        [*(task(f"chunk-{i}") for i in range(5)), task("audio", light=True)], Recorder(), threading.Event())
    assert sorted(outcome.done) == ["audio", *(f"chunk-{i}" for i in range(5))]
    by_name = dict(started)
    assert [by_name[f"chunk-{i}"] for i in range(3)] == [1, 1, 1]
    assert by_name["chunk-3"] == by_name["chunk-4"] == 2, "the last two chunks share both cores"


def test_a_title_of_one_chunk_uses_every_core() -> None:
    threads: list[int] = []
    one = TaskSpec("chunk-0", 8.0, lambda on_progress, stop, n: threads.append(n))
    audio = TaskSpec("audio", 0.4, lambda on_progress, stop, n: None, light=True)
    LocalExecutor(4).run_all([one, audio], Recorder(), threading.Event())
    assert threads == [4]


def test_one_chunk_at_a_time_gets_every_core_and_the_audio_runs_beside_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """By default (`chunks_side_by_side` 1) chunk encodes never overlap: each is a whole ladder whose
    encoder state a second process would hold again (2 x 362 MB for a 1080p ladder). Each gets both
    cores instead; the light audio task does not wait for the chunks."""
    monkeypatch.delenv("MINIFLIX_CHUNKS_SIDE_BY_SIDE", raising=False)
    running: set[str] = set()
    overlaps: list[set[str]] = []
    started: list[tuple[str, int]] = []
    lock = threading.Lock()

    def task(name: str, light: bool = False) -> TaskSpec:
        def run(on_progress, stop, threads) -> None:  # type: ignore[no-untyped-def]
            with lock:
                running.add(name)
                started.append((name, threads))
                overlaps.append(set(running))
            time.sleep(0.05)
            with lock:
                running.discard(name)
        return TaskSpec(name, 0.1 if light else 1.0, run, light)

    chunks = [task(f"chunk-{i}") for i in range(4)]
    outcome = LocalExecutor(2).run_all([*chunks, task("audio", light=True)], Recorder(), threading.Event())
    assert sorted(outcome.done) == ["audio", *(f"chunk-{i}" for i in range(4))]
    assert all(len({n for n in seen if n != "audio"}) <= 1 for seen in overlaps), overlaps
    assert [n for n, _ in started if n != "audio"] == [f"chunk-{i}" for i in range(4)], "in the given order"
    assert {threads for name, threads in started if name != "audio"} == {2}
    assert any("audio" in seen and "chunk-0" in seen for seen in overlaps), \
        "the audio runs beside the first chunk, not after the last"


def test_chunks_side_by_side_is_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIFLIX_CHUNKS_SIDE_BY_SIDE", "2")
    assert LocalExecutor(2).side_by_side == 2 and LocalExecutor(1).side_by_side == 1
    monkeypatch.setenv("MINIFLIX_CHUNKS_SIDE_BY_SIDE", "1")
    assert LocalExecutor(4).side_by_side == 1
