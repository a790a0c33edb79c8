"""Job progress: per-task fractions folded into one %, chunks done/total, speed and ETA.

The tracker is the executor's listener: it persists task state, publishes `encode` events
(progress at most once a second per task) and hands a `JobProgress` snapshot to the caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from server.events.api import ENCODE, Publisher
from server.jobs.store import DONE, PENDING, RUNNING, JobStore
from server.media.progress import ProgressUpdate

# Share of the whole job each stage stands for in the overall percentage.
STAGE_SPAN = {"probing": (0.0, 0.02), "encoding": (0.02, 0.88), "packaging": (0.88, 0.97),
              "verifying": (0.97, 0.99), "publishing": (0.99, 1.0)}
EVENT_INTERVAL_S = 1.0


@dataclass(frozen=True)
class JobProgress:
    """A snapshot the CLI bar, the HTTP job status and the studio's queue show."""

    job_id: str
    video_id: str
    stage: str
    fraction: float          # 0..1 over the whole job
    chunks_done: int
    chunks_total: int
    speed: float             # media seconds encoded per wall second (realtime factor)
    eta_s: float | None
    tasks: dict[str, float]  # task name -> 0..1, for the chunk x rung grid

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stage_progress(job_id: str, video_id: str, stage: str, within: float = 0.0) -> JobProgress:
    lo, hi = STAGE_SPAN.get(stage, (1.0, 1.0))
    return JobProgress(job_id, video_id, stage, lo + (hi - lo) * within, 0, 0, 0.0, None, {})


class ProgressTracker:
    """Listens to the executor for one job's encode stage."""

    def __init__(self, job_id: str, video_id: str, store: JobStore, publisher: Publisher,
                 seconds: dict[str, float], already_done: set[str],
                 report: Callable[[JobProgress], None]) -> None:
        self.job_id, self.video_id = job_id, video_id
        self.store, self.publisher, self.report = store, publisher, report
        self.seconds = seconds
        self.fractions = {name: (1.0 if name in already_done else 0.0) for name in seconds}
        self._lock = threading.Lock()
        self._last_event: dict[str, float] = {}
        self._began = time.monotonic()
        self._base_seconds = sum(seconds[n] for n in already_done)

    def _event(self, kind: str, task: str, **extra: Any) -> None:
        value = {"type": kind, "video_id": self.video_id, "job_id": self.job_id, "task": task,
                 "at": time.time(), **extra}
        self.publisher.publish(ENCODE, self.video_id, value)

    def started(self, name: str, attempt: int) -> None:
        self.store.set_task(self.job_id, name, RUNNING, attempted=True)
        self._event("task_started", name, attempt=attempt)

    def progress(self, name: str, update: ProgressUpdate) -> None:
        total = self.seconds.get(name) or 1.0
        with self._lock:
            self.fractions[name] = min(1.0, update.out_time_s / total)
        now = time.monotonic()
        if now - self._last_event.get(name, 0.0) >= EVENT_INTERVAL_S:
            self._last_event[name] = now
            self._event("task_progress", name, fraction=round(self.fractions[name], 4),
                        speed=update.speed)
        self.report(self.snapshot())

    def done(self, name: str, wall_s: float, worker: str = "") -> None:
        """`worker` names the cluster worker that ran the task (the studio shows it per chunk)."""
        with self._lock:
            self.fractions[name] = 1.0
        self.store.set_task(self.job_id, name, DONE, wall_s=wall_s)
        self._event("task_done", name, wall_s=round(wall_s, 3), out_seconds=self.seconds[name],
                    **({"worker": worker} if worker else {}))
        self.report(self.snapshot())

    def failed(self, name: str, error: str, attempt: int, final: bool) -> None:
        with self._lock:
            self.fractions[name] = 0.0
        self.store.set_task(self.job_id, name, PENDING, error=error)
        self._event("task_failed", name, error=error[-2000:], attempt=attempt, final=final)

    def snapshot(self) -> JobProgress:
        with self._lock:
            fractions = dict(self.fractions)
        total = sum(self.seconds.values()) or 1.0
        covered = sum(self.seconds[n] * f for n, f in fractions.items())
        elapsed = max(1e-6, time.monotonic() - self._began)
        speed = max(0.0, covered - self._base_seconds) / elapsed
        eta = (total - covered) / speed if speed > 0.01 else None
        chunks = [n for n in fractions if n.startswith("chunk-")]
        lo, hi = STAGE_SPAN["encoding"]
        return JobProgress(self.job_id, self.video_id, "encoding", lo + (hi - lo) * covered / total,
                           sum(1 for n in chunks if fractions[n] >= 1.0), len(chunks),
                           speed, eta, fractions)
