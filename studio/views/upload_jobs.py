"""The upload queue's state: one row per file, from the moment it is dropped until it is published.

A file on a server that shares our disk (loopback) is registered by path (`POST /api/jobs`), so
nothing is copied; otherwise, or when the server cannot see the path, it is streamed
(`POST /api/uploads`). Job state comes from `GET /api/jobs` (polled while work runs) and from the
`encode`/`videos` events, which fill the chunk grid between polls.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from studio.client import ApiClient, ApiError
from studio.widgets import fmt

MIB = 1024 * 1024

ACTIVE = ("adding", "uploading", "queued", "running", "publishing", "interrupted")
FINISHED = ("published", "failed", "cancelled", "refused")
MEDIA_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".mts",
                  ".m2ts", ".wmv", ".flv", ".3gp", ".ogv", ".mxf", ".dv", ".y4m"}
POLL_MS = 1000


@dataclass
class JobRow:
    """What the queue shows for one file; `key` is the job id once the server has one."""

    key: str
    name: str
    path: Path | None = None
    state: str = "adding"
    percent: float = 0.0
    speed: str = ""
    eta_s: float | None = None
    error: str = ""
    video_id: str = ""
    job: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, float] = field(default_factory=dict)
    workers: dict[str, str] = field(default_factory=dict)   # task -> cluster worker that encoded it
    speeds: dict[str, float] = field(default_factory=dict)  # finished task -> its speed, x realtime
    rungs: list[str] = field(default_factory=list)
    integrity: dict[str, Any] | None = None
    started: float = field(default_factory=time.monotonic)
    created: float = field(default_factory=time.time)

    @property
    def is_job(self) -> bool:
        return bool(self.job)


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; folders become the media files inside them (hidden files skipped)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES
                          and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            out.append(path)
    return out


class JobQueue(QObject):
    """Submits files, follows their jobs, and says when something changed (the view throttles)."""

    changed = Signal()
    job_progress = Signal(str, float)  # key, percent
    published = Signal(dict)           # the job, when this session saw it publish
    refused = Signal(str, str)         # key, reason

    def __init__(self, client: ApiClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.rows: dict[str, JobRow] = {}
        self._ids = itertools.count(1)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self.refresh)
        client.events.connect(self.on_events)

    # --- adding files -----------------------------------------------------------------------------

    def add_paths(self, paths: list[Path]) -> list[str]:
        """Queue every file (folders expanded); returns the new rows' keys."""
        keys = []
        for path in expand([Path(p) for p in paths]):
            row = JobRow(key=f"local-{next(self._ids)}", name=path.name, path=path)
            self.rows[row.key] = row
            keys.append(row.key)
            self._submit(row)
        self.changed.emit()
        return keys

    def _submit(self, row: JobRow) -> None:
        if not self.client.is_local:
            return self._upload(row)
        self.client.post("/api/jobs", {"path": str(row.path), "name": row.name},
                         on_ok=lambda job: self._adopt(row, job),
                         on_error=lambda err: self._path_refused(row, err))

    def _path_refused(self, row: JobRow, err: str) -> None:
        """A server on loopback that cannot see our file (another user, a container): send the bytes."""
        visible_here = row.path is not None and row.path.exists()
        if isinstance(err, ApiError) and err.status == 422 and "no such file" in err and visible_here:
            return self._upload(row)
        self._refuse(row, err)

    def _upload(self, row: JobRow) -> None:
        """Ask the server's upload limit first: a file over it is refused here, before a byte is
        sent (the server would refuse it unread, but a client still sending sees only a reset)."""
        if row.path is None:
            return self._refuse(row, "This job has no local file to send.")
        self.client.get("/api/health", on_ok=lambda health: self._upload_within(row, health),
                        on_error=lambda err: self._refuse(row, err))

    def _upload_within(self, row: JobRow, health: dict[str, Any]) -> None:
        limit = int((health.get("limits") or {}).get("upload_bytes") or 0)
        size = row.path.stat().st_size if row.path is not None and row.path.exists() else 0
        if limit and size > limit:
            return self._refuse(row, f"{row.name} is {size / MIB:,.0f} MiB; this server accepts uploads "
                                     f"up to {limit / MIB:,.0f} MiB. Raise MINIFLIX_UPLOAD_LIMIT_MB on the "
                                     "server, or add the file on the server's own machine.")
        self._send_file(row)

    def _send_file(self, row: JobRow) -> None:
        if row.path is None:
            return
        row.state, row.started = "uploading", time.monotonic()
        try:
            self.client.upload(row.path, lambda sent, total: self._uploaded(row, sent, total),
                               on_ok=lambda job: self._adopt(row, job),
                               on_error=lambda err: self._refuse(row, err))
        except OSError as exc:
            self._refuse(row, str(exc))

    def _uploaded(self, row: JobRow, sent: int, total: int) -> None:
        row.percent = 100.0 * sent / total
        elapsed = max(time.monotonic() - row.started, 1e-3)
        row.speed = f"{sent / elapsed / 1e6:.1f} MB/s"
        row.eta_s = (total - sent) / (sent / elapsed) if sent else None
        self.job_progress.emit(row.key, row.percent)
        self.changed.emit()

    def _adopt(self, row: JobRow, job: dict[str, Any]) -> None:
        """The server made a job: the row is known by its job id from now on."""
        self.rows.pop(row.key, None)
        row.key = job["job_id"]
        existing = self.rows.get(row.key)
        self.rows[row.key] = existing or row
        self.apply(job)
        self._poll.start()

    def follow(self, job: dict[str, Any]) -> None:
        """Show a job someone else started (the sample clip) as if it had been dropped here."""
        self.apply(job)
        self.rows[job["job_id"]].created = time.time()
        self._poll.start()

    def _refuse(self, row: JobRow, err: str) -> None:
        row.state, row.error, row.eta_s, row.speed = "refused", str(err), None, ""
        self.refused.emit(row.key, row.error)
        self.changed.emit()

    # --- following jobs ---------------------------------------------------------------------------

    def refresh(self) -> None:
        self.client.get("/api/jobs", on_ok=self._listed)

    def _listed(self, body: dict[str, Any]) -> None:
        jobs = {job["job_id"]: job for job in body.get("jobs", [])}
        for job in jobs.values():
            self.apply(job)
        gone = [k for k, r in self.rows.items() if r.is_job and k not in jobs]
        for key in gone:
            del self.rows[key]
        if not any(r.state in ACTIVE for r in self.rows.values()):
            self._poll.stop()
        self.changed.emit()

    def apply(self, job: dict[str, Any]) -> None:
        """Take the server's view of one job; notices the moment it publishes or fails."""
        row = self.rows.get(job["job_id"])
        if row is None:
            row = self.rows[job["job_id"]] = JobRow(job["job_id"], job.get("original_name", ""),
                                                    state=job["state"], created=job.get("created_at", 0.0))
        before = row.state
        row.job, row.video_id, row.state, row.error = job, job["video_id"], job["state"], job.get("error", "")
        row.percent, row.eta_s = float(job.get("percent") or 0.0), job.get("eta_s")
        row.speed = fmt.speed(job.get("speed")) if job.get("speed") else ""
        for task, fraction in (job.get("tasks") or {}).items():
            row.tasks[task] = max(row.tasks.get(task, 0.0), float(fraction))
        self._transition(row, before)
        self.job_progress.emit(row.key, row.percent)
        self.changed.emit()

    def _transition(self, row: JobRow, before: str) -> None:
        if row.state == before:
            return
        if row.state == "published":
            row.tasks = dict.fromkeys(row.tasks, 1.0)
            row.rungs = row.rungs or [r["name"] for r in (row.job.get("result") or {}).get("renditions", [])]
            self._fetch_integrity(row)
            if before in ACTIVE:
                self.published.emit(row.job)
        elif row.state == "failed" and before in ACTIVE:
            self.refused.emit(row.key, row.error)

    def _fetch_integrity(self, row: JobRow) -> None:
        if (row.job.get("result") or {}).get("integrity"):
            self.client.get(f"/origin/videos/{row.video_id}/integrity.json",
                            on_ok=lambda report: self._integrity(row, report),
                            on_error=lambda err: self._integrity(row, {"ok": None, "problems": [str(err)]}))

    def _integrity(self, row: JobRow, report: dict[str, Any]) -> None:
        row.integrity = report
        self.changed.emit()

    def on_events(self, batch: list[dict[str, Any]]) -> None:
        """Encode progress fills the grid between polls; a published/failed title triggers a poll."""
        by_video = {r.video_id: r for r in self.rows.values() if r.video_id}
        touched = False
        for event in batch:
            row = by_video.get(event.get("key", ""))
            if row is not None and event.get("topic") in ("encode", "videos"):
                touched = self._event(row, event["value"]) or touched
        if touched:
            self.changed.emit()

    def _event(self, row: JobRow, value: dict[str, Any]) -> bool:
        kind, task = value.get("type"), value.get("task", "")
        if kind == "ladder_planned":
            row.rungs = [r["name"] for r in sorted(value.get("renditions", []), key=lambda r: -r["height"])]
        elif kind == "task_progress" and task:
            row.tasks[task] = max(row.tasks.get(task, 0.0), float(value.get("fraction", 0.0)))
        elif kind == "task_started" and task:
            row.tasks.setdefault(task, 0.0)
        elif kind == "task_done" and task:
            row.tasks[task] = 1.0
            if value.get("worker"):
                row.workers[task] = str(value["worker"])
            wall_s, out_s = float(value.get("wall_s") or 0), float(value.get("out_seconds") or 0)
            if wall_s > 0 and out_s > 0:
                row.speeds[task] = out_s / wall_s
        elif kind in ("published", "failed", "job_done"):
            self.refresh()
        else:
            return False
        return True

    # --- actions ----------------------------------------------------------------------------------

    def cancel(self, key: str) -> None:
        self._act(key, "POST", f"/api/jobs/{key}/cancel")

    def retry(self, key: str) -> None:
        row = self.rows.get(key)
        if row is not None and not row.is_job:  # refused before it became a job: submit it again
            row.state, row.error, row.percent = "adding", "", 0.0
            return self._submit(row)
        self._act(key, "POST", f"/api/jobs/{key}/retry")

    def remove(self, key: str) -> None:
        row = self.rows.get(key)
        if row is not None and not row.is_job:
            del self.rows[key]
            return self.changed.emit()
        self._act(key, "DELETE", f"/api/jobs/{key}")

    def _act(self, key: str, verb: str, path: str) -> None:
        if key not in self.rows:
            return
        send = self.client.post if verb == "POST" else self.client.delete
        send(path, on_ok=lambda _body: self._acted(), on_error=self.client.error.emit)

    def _acted(self) -> None:
        self._poll.start()
        self.refresh()

    def running(self) -> int:
        return sum(1 for r in self.rows.values() if r.state in ACTIVE)

    def ordered(self) -> list[JobRow]:
        """Newest first, as the queue shows them."""
        return sorted(self.rows.values(), key=lambda r: -r.created)
