"""Running a named query on any DuckDB connection, and exporting its rows to CSV, Parquet or JSON.

Rows come straight from a DuckDB cursor; CSV and Parquet files are written by DuckDB itself
(`COPY (query) TO … (FORMAT …)`), JSON from the fetched rows. Every export goes to a temp name in the
target folder first and is renamed into place, so a file is there whole or not at all.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from server.analytics.queries import NamedQuery, get
from server.errors import InvalidRequest

if TYPE_CHECKING:  # only for annotations: the CLI lists FORMATS without loading DuckDB
    import duckdb

FORMATS = ("csv", "parquet", "json")
_COPY_OPTIONS = {"csv": "FORMAT csv, HEADER", "parquet": "FORMAT parquet"}


@dataclass(frozen=True)
class Rows:
    """A query's result: its column names (known even with no rows) and its rows in order."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


def run(conn: duckdb.DuckDBPyConnection, name: str, **params: Any) -> Rows:
    """The rows of query `name`, on a cursor of its own (safe beside the writer)."""
    sql, bound = _bound(get(name), params)
    with _cursor(conn) as cursor:
        cursor.execute(sql, bound)
        columns = [d[0] for d in cursor.description or ()]
        return Rows(columns, cursor.fetchall())


def export(conn: duckdb.DuckDBPyConnection, name: str, fmt: str, path: Path, **params: Any) -> int:
    """Write query `name`'s rows to `path` in `fmt`, whole or not at all; returns the row count."""
    path = _checked_target(fmt, Path(path))
    query = get(name)
    query.bind(params)  # refuse bad parameters before anything touches the disk
    tmp = path.with_name(f".{path.name}.part")
    try:
        written = _write(conn, query, params, fmt, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return written


def copy_to(conn: duckdb.DuckDBPyConnection, name: str, fmt: str, out: IO[bytes], **params: Any) -> int:
    """Stream query `name`'s rows in `fmt` to a binary stream (e.g. stdout), as `export` writes them."""
    with tempfile.TemporaryDirectory(prefix="miniflix-export-") as workdir:
        target = Path(workdir) / f"rows.{fmt}"
        written = export(conn, name, fmt, target, **params)
        with target.open("rb") as f:
            shutil.copyfileobj(f, out)
    return written


def to_json(rows: Rows) -> str:
    return json.dumps(rows.as_dicts(), indent=2, default=str)


def _write(conn: duckdb.DuckDBPyConnection, query: NamedQuery, params: dict[str, Any], fmt: str,
           path: Path) -> int:
    if fmt == "json":
        rows = run(conn, query.name, **params)
        path.write_text(to_json(rows))
        return len(rows)
    sql, bound = _bound(query, params)
    quoted = str(path).replace("'", "''")
    with _cursor(conn) as cursor:
        cursor.execute(f"COPY ({sql}) TO '{quoted}' ({_COPY_OPTIONS[fmt]})", bound)
        counted = cursor.fetchall()
    return int(counted[0][0]) if counted else 0


def _bound(query: NamedQuery, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The query's SQL and the parameters it uses (defaults filled in, types checked)."""
    bound = query.bind(params)
    return query.sql, {k: v for k, v in bound.items() if f"${k}" in query.sql}


def _checked_target(fmt: str, path: Path) -> Path:
    if fmt not in FORMATS:
        raise InvalidRequest(f"Unknown export format {fmt!r}.", hint=f"use one of {', '.join(FORMATS)}")
    if not path.parent.is_dir():
        raise InvalidRequest(f"Cannot export to {path}: folder {path.parent} does not exist.",
                             hint="create the folder or choose another --out path")
    return path


@contextmanager
def _cursor(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    cursor = conn.cursor()
    try:
        yield cursor
    finally:
        cursor.close()
