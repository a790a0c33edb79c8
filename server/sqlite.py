"""Short-lived SQLite connections for the small stores (catalog, jobs): WAL, rows by name, one
transaction per `with`, closed after. Safe across threads and processes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to `path` inside one committed-or-rolled-back transaction."""
    db = sqlite3.connect(path, timeout=30)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    try:
        with db:
            yield db
    finally:
        db.close()


class SqliteStore:
    """Base of the small stores: the file at `path` with the subclass's `SCHEMA` applied once."""

    SCHEMA = ""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self._connect() as db:
            db.executescript(self.SCHEMA)

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path)


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
