"""The `dask` executor (`executor = dask://HOST:PORT`): chunk encodes on a dask.distributed cluster.

The coordinator puts the job's source into the origin store once (under `work/<video id>/`),
submits each chunk's plain description (`ChunkWork`) to the scheduler, and fetches the chunk files
the workers put back into the store into its own `WorkLayout`, where packaging finds them as after
a local encode. Tasks without a description (the audio, one light encode of the whole file) run
here, on a local pool. Progress and the name of the worker that encoded a chunk reach the listener
from the workers (worker events on the run's topic); a stop sets a cluster-wide event that kills
the workers' ffmpeg. A worker lost mid-chunk is the scheduler's to handle: it runs the chunk again
on another worker (the listener sees a second start).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from server import config
from server.backends import ExecutorFactory
from server.errors import JobError, MiniflixError
from server.jobs.chunk_work import ChunkWork
from server.jobs.executor import LocalExecutor, RunOutcome, TaskListener, TaskSpec
from server.jobs.remote_chunk import RunChannel, encode_on_worker, forget_job
from server.media.progress import ProgressUpdate
from server.paths import DataDir
from server.storage.blobstore import BlobStore

log = logging.getLogger(__name__)

WORK_PREFIX = "work"
CONNECT_TIMEOUT_S = 5.0
ERROR_WAIT_S = 2.0  # how long a done future's error may take to arrive (`_failure_of`)
STOP_GRACE_S = 30.0      # how long a stopped run waits for the workers' ffmpeg to be killed
POLL_S = 0.1
NO_WORKERS_S = 60.0      # how long a run waits for a worker when the cluster has none
HINT = "start the cluster (`main.py cluster up`) or fix MINIFLIX_EXECUTOR"


def open_dask_executor(url: str, data: DataDir) -> ExecutorFactory:
    """The `dask` backend: checks that the scheduler answers now, before any job work starts;
    with `executor_fallback = local` a silent scheduler is a warning, and each run falls back."""
    fallback, address = config.get("executor_fallback") == "local", scheduler_address(url)
    try:
        check_reachable(address)
    except MiniflixError as exc:
        if not fallback:
            raise
        log.warning("MINIFLIX_EXECUTOR=%r: %s Chunk encodes will run on this machine "
                    "(MINIFLIX_EXECUTOR_FALLBACK=local).", url, exc.message)
    return partial(DaskExecutor, url, fallback=fallback)


def fallback_note(setting: str, why: str) -> str:
    """What a job that fell back to the local executor tells its user."""
    return (f"Encoded on this machine, not on the Dask cluster: {setting}: {why} "
            "(MINIFLIX_EXECUTOR_FALLBACK=local).")


def scheduler_address(url: str) -> str:
    """`dask://127.0.0.1:8786` → `tcp://127.0.0.1:8786`; a `MiniflixError` when it names no host:port."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "dask" or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise MiniflixError("want dask://HOST:PORT, the Dask scheduler's address",
                            hint="e.g. dask://127.0.0.1:8786 (`main.py cluster up` prints it)")
    return f"tcp://{parts.hostname}:{port}"


def check_reachable(address: str, timeout_s: float = 2.0) -> None:
    """A TCP connection to the scheduler, at once: a stopped scheduler is named before any work."""
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise MiniflixError(f"no Dask scheduler answers at {host}:{port} ({exc.strerror or exc}).",
                            hint=HINT) from None


class DaskExecutor:
    """Runs chunk tasks on the cluster at `address` and the other tasks on a local pool.

    `workers` is the cluster's business (each worker runs one chunk at a time); `retries` counts
    a chunk's failed attempts as the local executor does (a lost worker is no failed attempt)."""

    def __init__(self, url: str, workers: int, retries: int = 2,
                 origin: BlobStore | None = None, *, fallback: bool = False) -> None:
        self.setting, self.address = f"MINIFLIX_EXECUTOR={url!r}", scheduler_address(url)
        self.workers, self.retries, self.origin = max(1, workers), max(0, retries), origin
        self.fallback = fallback   # an unreachable scheduler: run here (with a note), not fail

    def run_all(self, tasks: Sequence[TaskSpec], listener: TaskListener,
                stop: threading.Event) -> RunOutcome:
        """Run every task; the first that fails for good sets `stop`, so the rest end early."""
        remote = [t for t in tasks if t.work is not None]
        here = [t for t in tasks if t.work is None]
        if not remote:
            return LocalExecutor(1, self.retries).run_all(here, listener, stop)
        if self.origin is None:
            raise JobError("the Dask executor needs the origin store to move chunks through.")
        try:
            client = self._connect()
        except JobError as exc:
            if not self.fallback:
                raise
            return self._run_here(tasks, listener, stop, exc.message)
        try:
            self._wait_for_a_worker(client)
            outcomes: list[RunOutcome] = []
            side = threading.Thread(target=lambda: outcomes.append(
                LocalExecutor(1, self.retries).run_all(here, listener, stop)), name="dask-local")
            side.start()
            try:
                ours = _Run(client, self.origin, listener, stop, self.retries, self.setting).run(remote)
            except BaseException:
                stop.set()   # the audio beside it ends too; the job fails with this error
                raise
            finally:
                side.join()
            return _merged(ours, *outcomes)
        finally:
            client.close()

    def _run_here(self, tasks: Sequence[TaskSpec], listener: TaskListener, stop: threading.Event,
                  why: str) -> RunOutcome:
        """Every task on the local executor (the user's opt-in fallback), with a note saying so."""
        log.warning("%s Chunk encodes run on this machine (MINIFLIX_EXECUTOR_FALLBACK=local).", why)
        outcome = LocalExecutor(self.workers, self.retries).run_all(tasks, listener, stop)
        outcome.notes.append(fallback_note(self.setting, why.removeprefix(f"{self.setting}: ")))
        return outcome

    def _connect(self) -> Any:
        from distributed import Client

        try:
            return Client(self.address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise JobError(f"{self.setting}: no Dask scheduler answers at {self.address} ({exc}).",
                           hint=HINT) from None

    def _wait_for_a_worker(self, client: Any) -> None:
        """Until the cluster has a worker (bounded): a scheduler alone would queue chunks for ever."""
        try:
            client.wait_for_workers(1, timeout=NO_WORKERS_S)
        except TimeoutError:
            raise JobError(f"{self.setting}: the Dask scheduler has no workers (waited "
                           f"{NO_WORKERS_S:.0f} s).", hint="start workers for it (`dask worker "
                           f"{self.address} --nthreads 1`) or use executor=local") from None


class _Run:
    """One `run_all` on the cluster: submit, follow the workers' events, settle each future."""

    def __init__(self, client: Any, origin: BlobStore, listener: TaskListener, stop: threading.Event,
                 retries: int, setting: str) -> None:
        self.client, self.origin, self.listener, self.stop = client, origin, listener, stop
        self.setting = setting   # `MINIFLIX_EXECUTOR='…'`, named in the errors a user sees
        self.retries, self.ref = retries, origin.address()
        self.channel = RunChannel.new()
        self.events: queue.SimpleQueue[tuple[float, dict[str, Any]]] = queue.SimpleQueue()
        self.sources: dict[str, str] = {}   # video id → its source's key in the store
        self.tail: set[str] = set()         # the chunks submitted last, given more threads
        self.starts: dict[str, int] = {}
        self.settled: set[str] = set()      # ended for now: a worker's late event is old news
        self.workerless_since: float | None = None
        self.checked_workers = 0.0
        self.failures: dict[str, int] = {}
        self.outcome = RunOutcome()

    def run(self, tasks: list[TaskSpec]) -> RunOutcome:
        from distributed import Event

        self.client.subscribe_topic(self.channel.topic, self.events.put)
        stop_event = Event(self.channel.stop_event, client=self.client)
        jobs = {t.work.job for t in tasks if t.work is not None}
        try:
            for task in tasks:
                if task.work is not None and task.work.job not in self.sources:
                    self.sources[task.work.job] = self._put_source(task.work)
            # longest first, as the pipeline ordered them: a higher priority runs earlier
            self.tail = set(t.name for t in tasks[-self._width():])
            futures = {self._submit(t, len(tasks) - i): t for i, t in enumerate(tasks)}
            self._follow(futures, stop_event)
        finally:
            self._drain(0)
            self.client.unsubscribe_topic(self.channel.topic)
            with contextlib.suppress(Exception):
                stop_event.clear()
            for job in jobs:
                self._forget(job)
        return self.outcome

    # ---- submit and follow ------------------------------------------------------------------
    def _put_source(self, work: ChunkWork) -> str:
        """Put the job's source into the store under its work prefix, once; returns the key."""
        local = Path(work.source)
        suffix = local.suffix.lower() if local.suffix[1:].isalnum() and local.suffix.isascii() else ""
        key = f"{_prefix(work.job)}/source{suffix}"
        if self.origin.exists(key) and self.origin.stat(key).size == local.stat().st_size:
            return key
        self.origin.put_file(key, local)
        return key

    def _submit(self, task: TaskSpec, priority: int) -> Any:
        work = task.work
        assert work is not None
        remote = work.at(self.sources[work.job], _prefix(work.job))
        key = f"{work.name}-{self.channel.run_id}-{uuid.uuid4().hex[:6]}"
        threads = self._width() if task.name in self.tail else 1
        return self.client.submit(encode_on_worker, remote, self.ref, self.channel, threads, key=key,
                                  priority=priority, pure=False)

    def _width(self) -> int:
        """How many workers the cluster has: the last that many chunks get that many threads each,
        as on the local executor (while they drain, a worker without work would idle its core)."""
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def _follow(self, futures: dict[Any, TaskSpec], stop_event: Any) -> None:
        while futures:
            self._drain(POLL_S)
            if self.stop.is_set():
                self._stop_all(futures, stop_event)
                return
            self._check_workers(futures)
            for future in [f for f in futures if f.done()]:
                task = futures.pop(future)
                if self._settle(future, task):   # failed, with attempts left: again, first
                    self.settled.discard(task.name)
                    futures[self._submit(task, len(futures) + 1)] = task

    def _check_workers(self, futures: dict[Any, TaskSpec]) -> None:
        """Once a second: a cluster left without any worker for `NO_WORKERS_S` ends the run with
        a `JobError` (with a worker lost, the scheduler runs its chunk elsewhere by itself); the
        chunks already fetched stay in the work dir, so a rerun encodes only the others."""
        now = time.monotonic()
        if now - self.checked_workers < 1.0:
            return
        self.checked_workers = now
        if self.client.scheduler_info().get("workers"):
            self.workerless_since = None
        elif self.workerless_since is None:
            self.workerless_since = now
        elif now - self.workerless_since > NO_WORKERS_S:
            lost = f"the Dask cluster lost every worker (none for {NO_WORKERS_S:.0f} s)"
            for task in futures.values():
                self.listener.failed(task.name, lost, 1, True)
            self.client.cancel(list(futures))
            left = len(futures)
            futures.clear()
            raise JobError(f"{self.setting}: {lost}; {left} chunk(s) were not encoded.",
                           hint="start workers for it (`main.py cluster up`) and run the job again: "
                                "the chunks already encoded are kept")

    def _settle(self, future: Any, task: TaskSpec) -> bool:
        """Record a finished future; True when it failed and has an attempt left."""
        self._drain(0)
        self.settled.add(task.name)
        if not self.starts.get(task.name):   # its start is still on the way: keep the order
            self._deliver({"kind": "started", "task": task.name}, late=False)
        if future.status == "finished":
            result = future.result()
            fetched = time.monotonic()
            self._fetch(task, result["keys"])
            cost = {k: round(float(result[k]), 3) for k in ("source_s", "encode_s", "put_s")}
            cost["fetch_s"] = round(time.monotonic() - fetched, 3)
            log.info("%s on %s: %s", task.name, result["worker"], cost,
                     extra={"chunk_cost": {"task": task.name, "worker": result["worker"], **cost}})
            self.listener.done(task.name, float(result["wall_s"]), worker=str(result["worker"]))
            self.outcome.done.append(task.name)
            return False
        error = _failure_of(future)
        attempt = self.failures[task.name] = self.failures.get(task.name, 0) + 1
        final = attempt > self.retries
        self.listener.failed(task.name, error, attempt, final)
        if final:
            self.outcome.failed[task.name] = error
            self.stop.set()
            return False
        self.outcome.retries += 1
        return True

    def _stop_all(self, futures: dict[Any, TaskSpec], stop_event: Any) -> None:
        """Kill the workers' ffmpeg (cluster-wide event) and wait for their tasks to end."""
        stop_event.set()
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and not all(f.done() for f in futures):
            self._drain(POLL_S)
        self.client.cancel(list(futures))
        self.outcome.stopped += [t.name for t in futures.values()]

    def _drain(self, wait_s: float) -> None:
        """Hand the workers' events to the listener (on this thread)."""
        try:
            _, event = self.events.get(timeout=wait_s) if wait_s else self.events.get_nowait()
        except queue.Empty:
            return
        while True:
            self._deliver(event)
            try:
                _, event = self.events.get_nowait()
            except queue.Empty:
                return

    def _deliver(self, event: dict[str, Any], late: bool = True) -> None:
        name = str(event.get("task"))
        if late and name in self.settled:
            return
        if event.get("kind") == "started":
            self.starts[name] = self.starts.get(name, 0) + 1
            self.listener.started(name, self.starts[name])
        elif event.get("kind") == "progress":
            self.listener.progress(name, ProgressUpdate(float(event["out_time_s"]), int(event["frame"]),
                                                        float(event["speed"]), bool(event["done"])))

    # ---- moving files -----------------------------------------------------------------------
    def _fetch(self, task: TaskSpec, keys: list[str]) -> None:
        """Copy a chunk's files from the store into the coordinator's work dir (write, then rename)."""
        assert task.work is not None
        for rel, key in zip(task.work.outputs(), keys, strict=True):
            target = Path(task.work.output) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            self.origin.get_file(key, target)

    def _forget(self, job: str) -> None:
        """Drop the job's work objects from the store and its copies from the workers' scratch."""
        with contextlib.suppress(Exception):
            self.client.run(forget_job, job)
        try:
            self.origin.delete(_prefix(job))
        except Exception:  # leftovers cost space only; the next run of the job replaces them
            log.warning("could not remove the work objects of %s from the origin", job, exc_info=True)


def _prefix(job: str) -> str:
    return f"{WORK_PREFIX}/{job}"


def _merged(first: RunOutcome, *others: RunOutcome) -> RunOutcome:
    for other in others:
        first.done += other.done
        first.failed.update(other.failed)
        first.stopped += other.stopped
        first.retries += other.retries
        first.notes += other.notes
    return first


def _failure_of(future: Any) -> str:
    """Why a done future did not finish, waiting at most ERROR_WAIT_S: one whose worker died with
    every other may go back to pending, and `exception()` without a timeout then waited for a
    worker that never came (a CI run hung 330 s in the test that loses every worker)."""
    try:
        return str(future.exception(timeout=ERROR_WAIT_S) or "cancelled")
    except TimeoutError:
        return f"its worker was lost ({future.status})"
