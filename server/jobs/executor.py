"""The local executor: tasks (one ffmpeg each) on a thread pool, with retries and a shared stop.

A distributed engine implements the same `run_all` (`server/jobs/dask_executor.py`); it ships a
task's plain description (`TaskSpec.work`) where the local one calls its `run`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from server import config
from server.errors import MiniflixError
from server.media.progress import ProgressUpdate

if TYPE_CHECKING:
    from server.jobs.chunk_work import ChunkWork

log = logging.getLogger(__name__)

# run(on_progress, stop, threads): `threads` is how many cores the attempt may keep busy.
TaskFn = Callable[[Callable[[ProgressUpdate], None], threading.Event, int], None]


@dataclass(frozen=True)
class TaskSpec:
    """One unit of work: `run(on_progress, stop, threads)`; `seconds` of media it covers weighs progress."""

    name: str
    seconds: float
    run: TaskFn
    light: bool = False  # needs a small share of a core (the audio): never holds others to one thread
    work: ChunkWork | None = None  # the plain description `run` encodes, for executors that ship it


@dataclass
class RunOutcome:
    """What happened to a batch: finished, failed (with the error text) and not run or stopped."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)
    retries: int = 0
    notes: list[str] = field(default_factory=list)  # for the user: how it ran (e.g. a fallback)


class TaskListener(Protocol):
    def started(self, name: str, attempt: int) -> None: ...
    def progress(self, name: str, update: ProgressUpdate) -> None: ...
    def done(self, name: str, wall_s: float, worker: str = "") -> None: ...
    def failed(self, name: str, error: str, attempt: int, final: bool) -> None: ...


class Executor(Protocol):
    """What an ingest needs from an executor: run a batch of tasks to the end, or until `stop`."""

    def run_all(self, tasks: Sequence[TaskSpec], listener: TaskListener,
                stop: threading.Event) -> RunOutcome: ...


def chunks_side_by_side() -> int:
    """How many heavy tasks (chunk encodes) run at once on this machine (setting, at least 1)."""
    return max(1, int(config.get("chunks_side_by_side")))


class LocalExecutor:
    """Runs tasks on `workers` threads; each failing task is retried `retries` times.

    At most `side_by_side` heavy tasks (chunk encodes, each a whole ladder) run at once, each with
    `workers // side_by_side` threads (setting `chunks_side_by_side`). A chunk's memory is its
    ladder's encoder state (x264's lookahead and reference frames, ~290 of the ~360 MB a 1080p
    ladder holds), which exists once per process whatever its threads: two single-threaded chunks
    side by side held 2 x 362 MB (1.53x the one-command ffmpeg), one 2-thread chunk ~390 MB, for the
    same CPU seconds (docs/BENCHMARKS.md, issue 19 §4). Light tasks (the audio) run beside them.

    With `side_by_side` = `workers` (one single-threaded chunk per core):
    a task started while enough heavy ones still wait to take every other worker gets one thread:
    parallelism comes from the pool, and one single-threaded ffmpeg per core wastes the least CPU.
    The last `workers` heavy tasks get `workers` threads each (light ones, `TaskSpec.light` such as
    the audio, do not count): the pool is draining, and without them the cores that run out of work
    would idle while the last long tasks finish (the tail of an encode, or a title of one chunk);
    all of them multi-threaded, they share the cores evenly and end close together. Such a task's
    ffmpeg runs on spare cores only (`ffmpeg.run(spare_cores=True)`): a single-threaded task still
    running beside it keeps most of its core instead of half of it. (Not all: SCHED_IDLE weighs 3
    against nice 19's 15, so the extra threads still get ~1/6 of that core; measured, a 16.6 s chunk
    at nice 19 took 18.6 s beside a threaded one, at nice 10 16.3 s of 16.1. Encodes stay at nice
    19 for the studio's sake, see MINIFLIX_FFMPEG_NICE; the work is not lost, only moved.)
    """

    def __init__(self, workers: int, retries: int = 2, origin: object = None,
                 side_by_side: int | None = None) -> None:
        """`origin` (the store a distributed executor moves sources and chunks through) is not
        needed here: the tasks read and write this machine's files. `side_by_side`: the setting
        `chunks_side_by_side` unless given, never more than `workers`."""
        self.workers = max(1, workers)
        self.retries = max(0, retries)
        wanted = chunks_side_by_side() if side_by_side is None else side_by_side
        self.side_by_side = max(1, min(self.workers, wanted))
        self._heavy_waiting = 0  # tasks not started yet that are not light

    def run_all(self, tasks: Sequence[TaskSpec], listener: TaskListener,
                stop: threading.Event) -> RunOutcome:
        """Run every task; the first task that fails for good sets `stop` so the rest end early."""
        outcome, lock = RunOutcome(), threading.Lock()
        self._heavy_waiting = sum(not t.light for t in tasks)
        if self.side_by_side >= self.workers:
            pools = [(ThreadPoolExecutor(self.workers, thread_name_prefix="encode"), list(tasks))]
        else:  # the heavy ones in their own pool, in order; the light ones beside them at once
            beside = max(1, self.workers - self.side_by_side)
            pools = [(ThreadPoolExecutor(self.side_by_side, thread_name_prefix="encode"),
                      [t for t in tasks if not t.light]),
                     (ThreadPoolExecutor(beside, thread_name_prefix="light"), [t for t in tasks if t.light])]
        for pool, mine in pools:
            for task in mine:
                pool.submit(self._run_one, task, listener, stop, outcome, lock)
        for pool, _ in pools:
            pool.shutdown(wait=True)
        return outcome

    def _run_one(self, task: TaskSpec, listener: TaskListener, stop: threading.Event,
                 outcome: RunOutcome, lock: threading.Lock) -> None:
        with lock:
            self._heavy_waiting -= not task.light
            threads = self.threads_for_next()
        for attempt in range(1, self.retries + 2):
            if stop.is_set():
                with lock:
                    outcome.stopped.append(task.name)
                return
            error = self._attempt(task, listener, stop, attempt, threads)
            if error is None:
                with lock:
                    outcome.done.append(task.name)
                return
            if stop.is_set():  # killed by a stop, not a failure of its own
                with lock:
                    outcome.stopped.append(task.name)
                return
            final = attempt > self.retries
            listener.failed(task.name, error, attempt, final)
            with lock:
                outcome.retries += 0 if final else 1
                if final:
                    outcome.failed[task.name] = error
                    stop.set()

    def threads_for_next(self) -> int:
        """The workers' share of one of the `side_by_side` heavy tasks (1 when one runs per core)
        while heavy tasks wait for every other slot; the pool's width for the last ones."""
        if self._heavy_waiting >= self.side_by_side:
            return max(1, self.workers // self.side_by_side)
        return self.workers

    def _attempt(self, task: TaskSpec, listener: TaskListener, stop: threading.Event,
                 attempt: int, threads: int) -> str | None:
        listener.started(task.name, attempt)
        began = time.monotonic()
        try:
            task.run(lambda update: listener.progress(task.name, update), stop, threads)
        except MiniflixError as exc:
            return exc.message
        except Exception as exc:  # an unexpected bug still fails the task, with its text kept
            log.exception("task %s crashed", task.name)
            return f"{type(exc).__name__}: {exc}"
        listener.done(task.name, time.monotonic() - began)
        return None
