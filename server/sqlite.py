"""Short-lived SQLite connections for the small stores (catalog, jobs): WAL, rows by name, one
transaction per `with`, closed after. Safe across threads and processes.

WAL is switched on once, when a store opens its file (the mode is kept in the file), never per
connection: that pragma is a write, and a read must not fail because the disk is full. For the same
reason each store keeps one idle connection open: in WAL mode every connection needs the shared
index (`-shm`) on disk, SQLite creates it when the first connection opens and deletes it when the
last one closes, and on a full disk it cannot be created again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from server.diskspace import disk_full, is_sqlite_out_of_space


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to `path` inside one committed-or-rolled-back transaction; DiskFull when the
    disk has no room for it."""
    try:
        db = sqlite3.connect(path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()
    except sqlite3.OperationalError as exc:
        if is_sqlite_out_of_space(exc, path.parent):
            raise disk_full(path.parent) from exc
        raise


class SqliteStore:
    """Base of the small stores: the file at `path` with the subclass's `SCHEMA` applied once."""

    SCHEMA = ""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self._connect() as db:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            db.executescript(self.SCHEMA)
            self.migrate(db)
        self._keeper = _keep_open(self.path)

    def migrate(self, db: sqlite3.Connection) -> None:
        """Bring a file made by an older version up to `SCHEMA` (subclasses add columns here)."""

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path)

    def close(self) -> None:
        """Let go of the idle connection (the store still works, with per-call connections only)."""
        self._keeper.close()


def _keep_open(path: Path) -> sqlite3.Connection:
    """An idle connection that has read once, so the WAL index stays on disk while we run."""
    keeper = sqlite3.connect(path, timeout=30, check_same_thread=False)
    keeper.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    return keeper


def add_column(db: sqlite3.Connection, table: str, column: str, definition: str) -> None:
    """`ALTER TABLE … ADD COLUMN` unless `table` has `column` already (a file from an older version)."""
    if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def upsert(db: sqlite3.Connection, table: str, row: dict[str, Any], json_fields: Sequence[str]) -> None:
    """`INSERT OR REPLACE` every column of `row`, storing `json_fields` as JSON text."""
    values = {k: json.dumps(v) if k in json_fields else v for k, v in row.items()}
    db.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(values)}) "
               f"VALUES ({', '.join(':' + k for k in values)})", values)


def decode(row: sqlite3.Row, json_fields: Sequence[str]) -> dict[str, Any]:
    """A row as a dict, with `json_fields` parsed back (NULL stays None)."""
    data = dict(row)
    for key in json_fields:
        data[key] = json.loads(data[key]) if data[key] is not None else None
    return data
