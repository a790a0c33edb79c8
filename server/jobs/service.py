"""The ingest service the HTTP server runs: a queue of jobs worked one at a time in the background.

Jobs left unfinished by a crash or a shutdown are resumed on `start()`; cancel, retry and remove
act on the persisted state, so the studio and the CLI see the same jobs.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.errors import Cancelled, Conflict
from server.jobs.pipeline import Ingest
from server.jobs.progress import JobProgress
from server.jobs.store import CANCELLED, FAILED, INTERRUPTED, PUBLISHED, QUEUED, UNFINISHED, JobRecord

log = logging.getLogger(__name__)
FINISHED = (PUBLISHED, FAILED, CANCELLED)


@dataclass
class JobStatus:
    """A job as the API shows it: stored record plus live progress."""

    record: JobRecord
    progress: JobProgress | None

    def to_dict(self) -> dict[str, Any]:
        r, p = self.record, self.progress
        done = r.state == PUBLISHED
        p = p if r.state not in FINISHED or done else None  # a failed job shows no stale "97%"
        fraction = 1.0 if done else (p.fraction if p else 0.0)
        return {"job_id": r.job_id, "video_id": r.video_id, "state": r.state,
                "original_name": r.original_name, "stage": p.stage if p else r.state,
                "percent": round(fraction * 100, 1), "current": p.chunks_done if p else 0,
                "total": p.chunks_total if p else 0, "speed": round(p.speed, 3) if p else 0.0,
                "eta_s": None if done or not p or p.eta_s is None else round(p.eta_s, 1),
                "tasks": p.tasks if p else {}, "error": r.error, "notes": r.notes,
                "result": r.result, "created_at": r.created_at, "updated_at": r.updated_at}


class IngestService:
    """Owns one worker thread; `submit` returns at once, progress is read with `get`."""

    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._progress: dict[str, JobProgress] = {}
        self._running: dict[str, threading.Event] = {}
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker and re-queue every job a crash or shutdown left unfinished (a job that
        keeps crashing the process is failed by the pipeline instead, see `job_crash_limit`)."""
        self.ingest.discard_leftovers()
        for job in self.ingest.store.list(UNFINISHED):
            log.info("resuming ingest of %s (%s)", job.original_name, job.job_id)
            self._queue.put(job.job_id)
        self._thread = threading.Thread(target=self._work, name="ingest-service", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Stop the running encode (it stays resumable) and end the worker."""
        with self._lock:
            for stop in self._running.values():
                stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, path: Path, original_name: str | None = None) -> JobStatus:
        job = self.ingest.create_job(Path(path), original_name)
        self._queue.put(job.job_id)
        return self.get(job.job_id)

    def get(self, job_id: str) -> JobStatus:
        return JobStatus(self.ingest.store.get(job_id), self._progress.get(job_id))

    def list_jobs(self) -> list[JobStatus]:
        return [JobStatus(r, self._progress.get(r.job_id)) for r in self.ingest.store.list()]

    def cancel(self, job_id: str) -> JobStatus:
        job = self.ingest.store.get(job_id)
        if job.state in FINISHED:
            raise Conflict(f"Job {job_id} is already {job.state}; nothing to cancel.")
        with self._lock:
            self._cancelled.add(job_id)
            if job_id in self._running:
                self._running[job_id].set()
        job.state = CANCELLED
        self.ingest.store.save(job)
        return self.get(job_id)

    def retry(self, job_id: str) -> JobStatus:
        """Queue a failed or cancelled job again; chunks it finished before are reused."""
        job = self.ingest.store.get(job_id)
        if job.state not in (FAILED, CANCELLED, INTERRUPTED):
            raise Conflict(f"Job {job_id} is {job.state}; only failed or cancelled jobs can be retried.")
        job.state, job.error, job.crashes = QUEUED, "", 0
        self.ingest.store.save(job)
        with self._lock:
            self._cancelled.discard(job_id)
        self._queue.put(job_id)
        return self.get(job_id)

    def remove(self, job_id: str) -> None:
        """Forget a finished job and its scratch files (the published title is not touched)."""
        job = self.ingest.store.get(job_id)
        if job.state not in FINISHED:
            raise Conflict(f"Job {job_id} is {job.state}; cancel it before removing it.")
        self.ingest.store.delete(job_id)
        shutil.rmtree(self.ingest.data.work / job.video_id, ignore_errors=True)
        self._progress.pop(job_id, None)

    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                self._run(job_id)
            except Conflict as exc:  # another process (the CLI) runs it; it records the outcome
                log.info("ingest job %s: %s", job_id, exc)
            except Exception:  # the pipeline records every failure; this keeps the queue going
                log.exception("ingest job %s crashed", job_id)

    def _run(self, job_id: str) -> None:
        job = self.ingest.store.get(job_id)
        if job.state in FINISHED or job_id in self._cancelled:
            return
        stop = threading.Event()
        with self._lock:
            self._running[job_id] = stop
        try:
            self.ingest.run(job, lambda p: self._progress.__setitem__(job_id, p), stop)
        except Cancelled:
            job.state = CANCELLED if job_id in self._cancelled else INTERRUPTED
            self.ingest.store.save(job)
        finally:
            with self._lock:
                self._running.pop(job_id, None)
