"""One explicit transaction on a DB-API style connection (SQLite, DuckDB): BEGIN, then COMMIT, or
ROLLBACK on any error and re-raise. The event log and the analytics loader write in explicit
transactions, the event log with `BEGIN IMMEDIATE` to take SQLite's write lock up front."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Executes(Protocol):
    def execute(self, sql: str, /) -> object: ...


@contextmanager
def explicit_transaction(conn: Executes, begin: str = "BEGIN TRANSACTION") -> Iterator[None]:
    """All of the body's writes or none of them."""
    conn.execute(begin)
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
