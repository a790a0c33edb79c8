"""The lake half of `miniflix analytics`: `archive [--once]`, `--source lake` and `--engine spark`."""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server import config
from server.engine import Engine
from server.errors import InvalidRequest, MiniflixError
from server.paths import DataDir

if TYPE_CHECKING:
    import duckdb

    from server.analytics.results import Rows


config.register("spark_master", "local[2]", "Spark master for `analytics --engine spark` when --master "
                "is not given: local[N], or spark://HOST:PORT (`cluster up --spark` prints one)")


def lake_path(data: DataDir, given: Path | None) -> Path:
    from server.analytics.lake_archiver import lake_dir

    return Path(given) if given else lake_dir(data)


def archive(data: DataDir, given: Path | None, *, once: bool) -> int:
    """Copy the log into the lake: what is pending (`once`), or on and on until interrupted."""
    from server.analytics.lake_archiver import Archiver

    path = lake_path(data, given)
    with Engine(data) as engine:
        archiver = Archiver(engine.events, path)
        try:
            if once:
                print(f"archived {archiver.run_once()} events to {path}", file=sys.stderr)
                return 0
            _run_until_interrupted(archiver, path)
        finally:
            archiver.close()
    return 0


def _run_until_interrupted(archiver: Any, path: Path) -> None:
    archiver.start()
    print(f"archiving the event log to {path} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        while archiver.error is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        return
    raise MiniflixError(f"Archiving stopped: {archiver.error}",
                        hint="the batch in hand was not recorded; run the command again to retry it")


@contextmanager
def duckdb_over(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the lake's views, so every named query runs over the lake."""
    import duckdb

    from server.analytics import lake_views

    _check_lake(path)
    with duckdb.connect() as conn:
        yield lake_views.attach_duckdb(conn, path)


def emit_spark(path: Path, master: str | None, name: str, params: dict[str, Any], fmt: str | None,
               out: Path | None) -> None:
    """Run query `name` as Spark SQL over the lake and print it as a table, JSON or CSV."""
    from server.analytics import spark
    from server.analytics.queries import get

    get(name).bind(params)  # a bad name or parameter fails before a JVM starts
    if out is not None or fmt == "parquet":
        raise InvalidRequest("With --engine spark the rows print to stdout (table, json or csv).",
                             hint="for a file, use --engine duckdb --source lake --out PATH")
    _check_lake(path)
    with spark.session(master or config.get("spark_master")) as session:
        spark.attach(session, path)
        _print(spark.run(session, name, **params), fmt)


def _print(rows: Rows, fmt: str | None) -> None:
    from server.analytics import results
    from server.cli.analytics import format_table

    if fmt == "json":
        print(results.to_json(rows))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(rows.columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows.rows)
    else:
        print(format_table(rows))


def _check_lake(path: Path) -> None:
    if not path.is_dir():
        raise InvalidRequest(f"No lake at {path}.", hint="fill it first: miniflix analytics archive --once")
