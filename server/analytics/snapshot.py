"""Reading the analytics file from a second process while the server holds it.

DuckDB lets one process open a file for writing and no other process open it at all. The writer
holds an advisory lock file (`<db>.lock`) while it loads a batch; a reader takes the same lock, copies
the database and its WAL to a private temp dir (a consistent state between two batches), and
queries the copy. Figures are as fresh as the server's last loaded batch.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from server.errors import NotFound
from server.portable import lock_exclusive, unlock


class WriterLock:
    """An exclusive `flock` on `<db>.lock`, held by the writer per batch and by a snapshot copy."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._file: Any = None

    def __enter__(self) -> WriterLock:
        self._file = open(self.path, "a+")
        lock_exclusive(self._file.fileno())
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        unlock(self._file.fileno())
        self._file.close()


def open_snapshot(db_path: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """A connection to a private copy of `db_path` (and the temp dir to delete when done)."""
    if not db_path.exists():
        raise NotFound(f"No analytics database at {db_path}.", hint="start the server or run a command "
                       "that loads events first")
    workdir = Path(tempfile.mkdtemp(prefix="miniflix-analytics-"))
    copy = workdir / db_path.name
    with WriterLock(db_path):
        shutil.copyfile(db_path, copy)
        wal = db_path.with_name(db_path.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
    return duckdb.connect(str(copy)), workdir


@contextmanager
def snapshot_of(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """`open_snapshot` as a context: the private copy is closed and deleted on the way out."""
    conn, workdir = open_snapshot(db_path)
    try:
        yield conn
    finally:
        conn.close()
        shutil.rmtree(workdir, ignore_errors=True)
