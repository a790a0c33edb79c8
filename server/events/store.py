"""The SQLite side of the log: schema, connections and the statements shared by writers and readers.

One WAL file; `synchronous=FULL` so a committed publish survives a power cut. Offsets come from the
`heads` table (not `MAX(offset)`), so retention deleting old rows never lets an offset be reused.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from server.portable import lock_exclusive
from server.transactions import explicit_transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    topic TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS heads (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    key TEXT NOT NULL,
    ts REAL NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO log_meta (name, value) VALUES ('identity', lower(hex(randomblob(16))));
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (grp, topic, partition)
) WITHOUT ROWID;
"""

INSERT_EVENT = "INSERT INTO events (topic, partition, offset, key, ts, value) VALUES (?, ?, ?, ?, ?, ?)"
EVENT_COLUMNS = 6


@lru_cache(maxsize=32)
def upsert_heads(slots: int) -> str:
    """One statement setting the next offset of `slots` (topic, partition) pairs (flat parameters)."""
    return ("INSERT INTO heads (topic, partition, next_offset) VALUES " + ", ".join(["(?, ?, ?)"] * slots)
            + " ON CONFLICT DO UPDATE SET next_offset = excluded.next_offset")


@lru_cache(maxsize=32)
def insert_events(rows: int) -> str:
    """One INSERT of `rows` events (columns as in `INSERT_EVENT`, flat)."""
    return INSERT_EVENT + ", (?, ?, ?, ?, ?, ?)" * (rows - 1)
READ_PARTITION = ("SELECT offset, key, ts, value FROM events WHERE topic = ? AND partition = ? "
                  "AND offset >= ? ORDER BY offset LIMIT ?")


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit `BEGIN IMMEDIATE`)."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=30000")
    return db


def identity(db: sqlite3.Connection) -> str:
    """The log's identity, made once with the file: offsets of one log mean nothing in another."""
    row = db.execute("SELECT value FROM log_meta WHERE name = 'identity'").fetchone()
    return f"sqlite:{row[0]}"


def create_schema(path: Path) -> None:
    db = connect(path)
    try:
        db.executescript(SCHEMA)
    finally:
        db.close()


class Connections:
    """One connection per thread (sqlite3 connections must not be shared while in use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close_all(self) -> None:
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()
        self._local = threading.local()


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Exclusive across threads and processes (a fresh open file each time, so `flock` excludes even
    within one process). Writers wait in the kernel and wake as soon as it is free; SQLite's own busy
    handler would sleep in growing steps, up to 100 ms, under contention."""
    with open(path.with_name(path.name + ".write-lock"), "a+") as handle:
        lock_exclusive(handle.fileno())
        yield  # closing the file releases the lock


@contextmanager
def write_transaction(db: sqlite3.Connection, path: Path) -> Iterator[None]:
    """One write transaction as every writer of the log makes it: the writers' lock, then `BEGIN
    IMMEDIATE` (the write lock up front: an autocommit write that finds another process's commit
    after its read fails at once with 'database is locked'), COMMIT, or ROLLBACK on any error."""
    with write_lock(path), explicit_transaction(db, "BEGIN IMMEDIATE"):
        yield
