"""`miniflix lab replay …`: the CDN what-if replay lab. Other labs add their own `lab` sub-commands
from a module `server/cli/lab_<name>.py` defining `register_lab(labs)` (and no `register`, which would
make it a top-level command): `register` below finds them.

`--trace recorded` (the default) replays the requests the edges really served, read from the analytics
database (loading pending events first, or from a snapshot while the server holds the file);
`zipf` and `sessions` generate a seeded trace instead.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar

from server.cdn.topology import Topology
from server.cli import add_data_dir
from server.errors import MiniflixError
from server.labs import sweep as lab
from server.labs import trace as traces
from server.labs.replay import BELADY, ORIGIN_RTT_MS, Fill, Latency
from server.paths import DataDir
from server.registry import BadSetting

DEFAULT_SIZES = "64M,256M,1G,4G"


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("lab", help="what-if labs over the studio's own record (replay: CDN caches)")
    labs = p.add_subparsers(dest="lab", metavar="LAB", parser_class=type(p))
    labs.required = True
    register_replay(labs)
    for module in _lab_modules():
        module.register_lab(labs)


def _lab_modules() -> list[ModuleType]:
    """The `server/cli/lab_*.py` modules that add a lab (`register_lab`), by name."""
    import server.cli

    names = sorted(m.name for m in pkgutil.iter_modules(server.cli.__path__) if m.name.startswith("lab_"))
    modules = [importlib.import_module(f"server.cli.{name}") for name in names]
    return [m for m in modules if hasattr(m, "register_lab")]


def register_replay(labs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = labs.add_parser("replay", help="replay edge requests against other caches, policies, edges, TTLs",
                        description="Replays a request trace through every cache size x policy (and "
                        "Belady's MIN, the offline ceiling) and finds the cache each policy needs to "
                        "reach the target hit ratio.")
    add_data_dir(p)
    p.add_argument("--trace", choices=traces.KINDS, default=traces.RECORDED,
                   help="recorded: the edges' request log (default); zipf, sessions: generated")
    p.add_argument("--sizes", default=DEFAULT_SIZES, help=f"cache sizes per edge (default {DEFAULT_SIZES})")
    p.add_argument("--policies", default="all", help="comma-separated eviction policies (default: all)")
    p.add_argument("--edges", type=int, default=1, help="edges sharing the trace by title (default 1)")
    p.add_argument("--ttl", type=float, default=0.0, help="seconds an object stays fresh (0: forever)")
    p.add_argument("--target", type=float, default=0.9, help="hit ratio to size the cache for (default 0.9)")
    p.add_argument("--origin-rtt-ms", type=float, default=ORIGIN_RTT_MS, help="edge-origin round trip")
    p.add_argument("--fill", type=int, default=0, metavar="N",
                   help="proactive fill: push the N titles most requested in the last period to their "
                   "home edges at each period's start (default 0: none)")
    p.add_argument("--fill-period", type=float, default=86400.0, metavar="S",
                   help="seconds between fills (default 86400: daily, like the fill service's window)")
    p.add_argument("--requests", type=int, default=200_000, help="generated traces: requests")
    p.add_argument("--titles", type=int, default=200, help="generated traces: titles")
    p.add_argument("--alpha", type=float, default=0.8, help="generated traces: Zipf exponent")
    p.add_argument("--seed", type=int, default=1, help="generated traces: random seed")
    p.add_argument("--json", action="store_true", help="print the whole sweep as JSON")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write the sweep's rows to FILE")
    p.set_defaults(func=run_replay)


class LabResult(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=LabResult)
Table = tuple[Sequence[str], Sequence[Sequence[object]]]


def run_lab(args: argparse.Namespace, compute: Callable[[argparse.Namespace], R],
            table: Callable[[R], Table], text: Callable[[R], str]) -> int:
    """What every `lab` command does with its result: an error is its message and exit 1 (a bad
    setting goes to main.py for exit 2); `--csv` gets `table` written whole or not at all; then the
    result as JSON (`--json`) or as `text`."""
    try:
        result = compute(args)
    except BadSetting:
        raise
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.csv is not None:
        columns, rows = table(result)
        write_table(args.csv, columns, rows)
        print(f"wrote {len(rows)} rows to {args.csv}", file=sys.stderr)
    print(json.dumps(result.to_dict(), indent=1) if args.json else text(result))
    return 0


def write_table(path: Path, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A CSV file, whole or not at all (written beside, then renamed)."""
    part = path.with_name(path.name + ".part")
    with part.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
    part.replace(path)


def run_replay(args: argparse.Namespace) -> int:
    return run_lab(args, _sweep, lambda result: (lab.CSV_COLUMNS, lab.csv_rows(result.points)), format_sweep)


def _sweep(args: argparse.Namespace) -> lab.Sweep:
    whatif = lab.WhatIf(lab.parse_sizes(args.sizes), lab.parse_policies(args.policies), args.edges,
                        args.ttl, args.target, _latency(args.origin_rtt_ms),
                        Fill(args.fill, args.fill_period))
    return lab.run_sweep(_trace(args), whatif)


def _latency(origin_rtt_ms: float) -> Latency:
    edges = Latency.from_topology(Topology.configured())
    return Latency(edges.edge_rtt_ms, edges.edge_mbps, origin_rtt_ms)


def _trace(args: argparse.Namespace) -> traces.ReplayTrace:
    if args.trace != traces.RECORDED:
        return traces.generated(args.trace, requests=args.requests, titles=args.titles, alpha=args.alpha,
                                seed=args.seed)
    from server.cli.analytics import open_reader  # DuckDB loads only for a recorded trace

    data = DataDir.resolve(args.data_dir)
    with open_reader(data) as conn:
        return traces.recorded(conn, where=str(data.root))


def format_sweep(result: lab.Sweep) -> str:
    """A text table per cache size, then each policy's needed size and the headline."""
    t = result.trace
    fill = result.whatif.fill
    filled = f"; fill: top {fill.titles} every {fill.period_s:g} s" if fill.titles else ""
    lines = [f"trace: {t['kind']}, {t['requests']:,} requests, {t['objects']:,} objects, "
             f"{lab.format_size(float(str(t['bytes'])))} requested; edges: {result.whatif.edges}{filled}",
             f"{'cache/edge':>11}  {'policy':<9} {'hit':>6} {'byte hit':>8} {'origin':>11} {'p95 ms':>8}"]
    for p in result.points:
        p95 = "-" if p.p95_ms is None else f"{p.p95_ms:.0f}"
        name = "MIN" if p.policy == BELADY else p.policy
        pushed = f"  + {lab.format_size(p.fill_bytes)} filled" if p.fill_bytes else ""
        lines.append(f"{lab.format_size(p.cache_bytes):>11}  {name:<9} {p.hit_ratio:>6.1%} "
                     f"{p.byte_hit_ratio:>8.1%} {lab.format_size(p.origin_bytes):>11} {p95:>8}{pushed}")
    lines += [need.sentence(result.whatif.edges) for need in result.needed]
    return "\n".join([*lines, f"=> {result.headline()}"])
