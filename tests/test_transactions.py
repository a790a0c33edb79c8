"""explicit_transaction: the writes of a failed body never land, in SQLite and in DuckDB alike."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import pytest

from server.transactions import explicit_transaction


def connections(tmp_path: Path) -> list[Any]:
    lite = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None)
    duck = duckdb.connect(str(tmp_path / "t.duckdb"))
    for conn in (lite, duck):
        conn.execute("CREATE TABLE t (x INTEGER)")
    return [lite, duck]


def count(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])


def test_a_body_that_fails_half_way_leaves_nothing_behind(tmp_path: Path) -> None:
    for conn in connections(tmp_path):
        with pytest.raises(RuntimeError), explicit_transaction(conn):
            conn.execute("INSERT INTO t VALUES (1)")
            raise RuntimeError("disk full")
        assert count(conn) == 0


def test_a_body_that_ends_commits_all_of_it(tmp_path: Path) -> None:
    lite, duck = connections(tmp_path)
    with explicit_transaction(lite, "BEGIN IMMEDIATE"):
        lite.execute("INSERT INTO t VALUES (1)")
        lite.execute("INSERT INTO t VALUES (2)")
    with explicit_transaction(duck):
        duck.execute("INSERT INTO t VALUES (1)")
    assert (count(lite), count(duck)) == (2, 1)
    assert count(sqlite3.connect(tmp_path / "t.sqlite")) == 2  # committed: another connection sees it
