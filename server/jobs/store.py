"""Persisted job and task state (SQLite, WAL): what lets a killed ingest resume where it stopped."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from server.errors import NotFound
from server.sqlite import SqliteStore, add_column, decode, upsert

QUEUED, RUNNING, PUBLISHING, PUBLISHED, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "publishing", "published", "failed", "cancelled", "interrupted")
UNFINISHED = (QUEUED, RUNNING, PUBLISHING, INTERRUPTED)
PENDING, DONE = "pending", "done"

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    video_id TEXT NOT NULL,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    original_name TEXT NOT NULL,
    state TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    plan_key TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '[]',
    retries INTEGER NOT NULL DEFAULT 0,
    cpu_s REAL NOT NULL DEFAULT 0,
    wall_s REAL NOT NULL DEFAULT 0,
    result TEXT NOT NULL DEFAULT '{}',
    crashes INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE TABLE IF NOT EXISTS tasks (
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    wall_s REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, name)
);
"""


@dataclass
class JobRecord:
    """One ingest job as stored; `result` holds the published output summary."""

    job_id: str
    video_id: str
    source: str
    fingerprint: str
    original_name: str
    state: str
    options: dict[str, Any] = field(default_factory=dict)
    plan_key: str = ""
    error: str = ""
    notes: list[str] = field(default_factory=list)
    retries: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    crashes: int = 0  # runs that ended without recording an outcome (the process died)
    created_at: float = 0.0
    updated_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TaskRecord:
    name: str
    state: str
    attempts: int
    error: str
    wall_s: float


JSON_FIELDS = ("options", "notes", "result")


class JobStore(SqliteStore):
    """Jobs and their tasks in one SQLite file, shared by the CLI and the server processes."""

    SCHEMA = SCHEMA

    def migrate(self, db: sqlite3.Connection) -> None:
        add_column(db, "jobs", "crashes", "INTEGER NOT NULL DEFAULT 0")

    def save(self, job: JobRecord) -> JobRecord:
        now = time.time()
        job.created_at = job.created_at or now
        job.updated_at = now
        with self._connect() as db:
            upsert(db, "jobs", job.to_dict(), JSON_FIELDS)
        return job

    def save_if_present(self, job: JobRecord) -> bool:
        """`save`, unless the job was removed meanwhile (a user may remove a job the moment it
        published, before its run's last save): a removed job stays removed."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM jobs WHERE job_id = ?", (job.job_id,)).fetchone() is None:
                return False
            job.updated_at = time.time()
            upsert(db, "jobs", job.to_dict(), JSON_FIELDS)
        return True

    def get(self, job_id: str) -> JobRecord:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"No ingest job {job_id!r}.")
        return _job(row)

    def list(self, states: tuple[str, ...] | None = None) -> list[JobRecord]:
        query, args = "SELECT * FROM jobs", []
        if states:
            query += f" WHERE state IN ({', '.join('?' * len(states))})"
            args = list(states)
        with self._connect() as db:
            return [_job(r) for r in db.execute(query + " ORDER BY created_at", args)]

    def find_unfinished(self, fingerprint: str) -> JobRecord | None:
        """The resumable job for the same source file (path, size and mtime), if any."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE fingerprint = ? AND state IN (?, ?, ?, ?) "
                             "ORDER BY created_at DESC LIMIT 1", (fingerprint, *UNFINISHED)).fetchone()
        return _job(row) if row else None

    def delete(self, job_id: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM tasks WHERE job_id = ?", (job_id,))
            db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))

    def reset_tasks(self, job_id: str, names: Sequence[str]) -> None:
        """Start a fresh task list (a new plan); finished work of an older plan is not reused."""
        with self._connect() as db:
            db.execute("DELETE FROM tasks WHERE job_id = ?", (job_id,))
            db.executemany("INSERT INTO tasks (job_id, name, state) VALUES (?, ?, ?)",
                           [(job_id, n, PENDING) for n in names])

    def tasks(self, job_id: str) -> dict[str, TaskRecord]:
        with self._connect() as db:
            rows = db.execute("SELECT name, state, attempts, error, wall_s FROM tasks "
                              "WHERE job_id = ? ORDER BY name", (job_id,)).fetchall()
        return {r["name"]: TaskRecord(**dict(r)) for r in rows}

    def set_task(self, job_id: str, name: str, state: str, *, error: str = "", wall_s: float = 0.0,
                 attempted: bool = False) -> None:
        with self._connect() as db:
            db.execute("UPDATE tasks SET state = ?, error = ?, wall_s = ?, attempts = attempts + ? "
                       "WHERE job_id = ? AND name = ?",
                       (state, error, wall_s, int(attempted), job_id, name))


def _job(row: sqlite3.Row) -> JobRecord:
    return JobRecord(**decode(row, JSON_FIELDS))
