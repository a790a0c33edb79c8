"""`miniflix analytics QUERY [--format csv|parquet|json] [--out PATH] [--param NAME=VALUE]...`

Without a server the command owns the DuckDB file: it loads pending events from the log first, so
figures are current. With a server holding the file, it reads a snapshot copy taken between two of
the server's batches (see server/analytics/snapshot.py).

`--source lake` runs the query in DuckDB over the Parquet lake instead, `--engine spark [--master …]`
as Spark SQL over the lake; `miniflix analytics archive [--once]` fills the lake (docs/LAKE.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.analytics import results
from server.analytics.queries import QUERIES
from server.cli import add_data_dir
from server.cli import analytics_lake as lake_cli
from server.engine import Engine
from server.errors import Conflict, InvalidRequest, MiniflixError
from server.paths import DataDir
from server.registry import BadSetting

if TYPE_CHECKING:  # DuckDB loads only when a query runs: every other command starts faster
    import duckdb

    from server.analytics.service import AnalyticsService


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("analytics", help="run a named analytics query and print or export it",
                        description="queries: " + "; ".join(f"{q.name}: {q.help}" for q in QUERIES.values()))
    p.add_argument("query", nargs="?", help="query name (omit with --list)")
    add_data_dir(p)
    p.add_argument("--format", choices=results.FORMATS, help="output format (default: a text table, "
                   "or taken from --out's suffix)")
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="query parameter, e.g. --param video_id=abc (repeatable)")
    p.add_argument("--list", action="store_true", help="list the queries and their parameters")
    p.add_argument("--rebuild", action="store_true", help="drop the DuckDB file and replay the whole "
                   "event log into a new one first (not while the server runs)")
    p.add_argument("--source", choices=("live", "lake"), default="live", help="the live DuckDB file "
                   "(default) or the Parquet lake of the event log")
    p.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb", help="query engine; "
                   "spark reads the lake")
    p.add_argument("--master", default=None, help="Spark master: local[N] or spark://HOST:PORT "
                   "(default: $MINIFLIX_SPARK_MASTER, else local[2])")
    p.add_argument("--lake", type=Path, help="the lake folder (default: the lake_dir setting, or DATA/lake)")
    p.add_argument("--once", action="store_true", help="with 'archive': archive what is pending, compact "
                   "closed hours, and exit (default: keep archiving until interrupted)")
    p.set_defaults(func=run_analytics)


def run_analytics(args: argparse.Namespace) -> int:
    if args.list or not args.query:
        print(_listing())
        return 0 if args.list else 2
    try:
        if args.query == ARCHIVE:
            return lake_cli.archive(DataDir.resolve(args.data_dir), args.lake, once=args.once)
        params = _params(args.param)
        if args.engine == "spark" or args.source == "lake":
            lake = lake_cli.lake_path(DataDir.resolve(args.data_dir), args.lake)
            if args.engine == "spark":
                lake_cli.emit_spark(lake, args.master, args.query, params, args.format, args.out)
            else:
                with lake_cli.duckdb_over(lake) as conn:
                    _emit(conn, args.query, params, args.format, args.out)
            return 0
        with open_reader(DataDir.resolve(args.data_dir), rebuild=args.rebuild) as conn:
            _emit(conn, args.query, params, args.format, args.out)
    except BadSetting:  # main.py reports it with exit code 2
        raise
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


ARCHIVE = "archive"  # not a query: fills the lake


def read_rows(data: DataDir, name: str, params: dict[str, Any], *, rebuild: bool = False) -> results.Rows:
    """The rows of query `name` with current figures (see `open_reader`)."""
    with open_reader(data, rebuild=rebuild) as conn:
        return results.run(conn, name, **params)


@contextmanager
def open_reader(data: DataDir, *, rebuild: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the analytics figures: the file itself after loading pending events, or a
    snapshot copy while the server holds the file."""
    from server.analytics import snapshot

    with Engine(data) as engine, ExitStack() as stack:
        service = engine.analytics()
        stack.callback(service.stop)
        try:
            conn = _owned(service, rebuild)
            stack.callback(conn.close)
        except Conflict:
            if rebuild:
                raise Conflict("Cannot rebuild: the server holds the analytics database.",
                               hint="stop the server first") from None
            conn = stack.enter_context(snapshot.snapshot_of(data.analytics_db))
        yield conn


def _owned(service: AnalyticsService, rebuild: bool) -> duckdb.DuckDBPyConnection:
    """Take the file (raises `Conflict` if the server has it), load what is pending, maybe rebuild."""
    service.catch_up()
    if rebuild:
        print(f"rebuilt from the log: {service.rebuild()} events", file=sys.stderr)
    return service.reader()


def _params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidRequest(f"--param {pair!r} is not NAME=VALUE.")
        params[name.strip()] = value
    return params


def _emit(conn: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any], fmt: str | None,
          out: Path | None) -> None:
    if out is not None:
        fmt = fmt or out.suffix.lstrip(".").lower()
        written = results.export(conn, name, fmt, out, **params)
        print(f"wrote {written} rows to {out}", file=sys.stderr)
    elif fmt == "parquet":
        raise InvalidRequest("Parquet is binary: give --out PATH.")
    elif fmt == "json":
        print(results.to_json(results.run(conn, name, **params)))
    elif fmt == "csv":
        sys.stdout.flush()
        results.copy_to(conn, name, "csv", sys.stdout.buffer, **params)
    else:
        print(format_table(results.run(conn, name, **params)))


def format_table(rows: results.Rows) -> str:
    """A plain aligned text table for the terminal."""
    names = rows.columns
    cells = [[_cell(v) for v in row] for row in rows.rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([*lines, f"({len(cells)} rows)"])


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _listing() -> str:
    lines = [f"{ARCHIVE:<18} Copy the event log into the Parquet lake (--once: what is pending, then exit)."]
    for q in QUERIES.values():
        params = ", ".join(f"{p.name}={p.default}" for p in q.params) or "no parameters"
        lines.append(f"{q.name:<18} {q.help}\n{'':<18} ({params})")
    return "\n".join(lines)
