"""Running a named query on any DuckDB connection, and exporting its rows to CSV, Parquet or JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from server.analytics.queries import get
from server.errors import InvalidRequest

FORMATS = ("csv", "parquet", "json")


def run(conn: duckdb.DuckDBPyConnection, name: str, **params: Any) -> pa.Table:
    """The rows of query `name` as an Arrow table, on a cursor of its own (safe beside the writer)."""
    query = get(name)
    bound = query.bind(params)
    cursor = conn.cursor()
    try:
        used = {k: v for k, v in bound.items() if f"${k}" in query.sql}
        return cursor.sql(query.sql, params=used).to_arrow_table()
    finally:
        cursor.close()


def as_dicts(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def export(table: pa.Table, fmt: str, path: Path) -> Path:
    """Write `table` to `path` in `fmt`, whole or not at all (temp file, then rename)."""
    if fmt not in FORMATS:
        raise InvalidRequest(f"Unknown export format {fmt!r}.", hint=f"use one of {', '.join(FORMATS)}")
    path = Path(path)
    if not path.parent.is_dir():
        raise InvalidRequest(f"Cannot export to {path}: folder {path.parent} does not exist.",
                             hint="create the folder or choose another --out path")
    tmp = path.with_name(f".{path.name}.part")
    try:
        _write(table, fmt, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write(table: pa.Table, fmt: str, path: Path) -> None:
    if fmt == "csv":
        pa_csv.write_csv(table, path)
    elif fmt == "parquet":
        pq.write_table(table, path)
    else:
        path.write_text(to_json(table))


def to_json(table: pa.Table) -> str:
    return json.dumps(as_dicts(table), indent=2, default=str)
