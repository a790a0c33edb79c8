"""`miniflix lab cost [--title ID] [--price-… X] [--what-if double-cache,av1,per-title] [--json] [--csv F]`:
what the library costs to store, serve and encode at the given prices, a month ahead, and after each
what-if (measured figures only)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from server.cli import add_data_dir
from server.cli.lab import run_lab
from server.engine import Engine
from server.labs import cost
from server.labs.cost_prices import PARAMS, SOURCES, Prices, prices_from
from server.labs.cost_whatif import WHATIFS, parse_whatifs
from server.paths import DataDir

DEFAULTS = Prices()


def register_lab(labs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = labs.add_parser("cost", help="what the library costs to store, serve and encode, and what-ifs",
                        description="Storage (origin bytes), egress (edge and origin bytes from the cdn "
                        "events), encode CPU-hours (job records) at the given prices; a monthly "
                        "projection from the recorded window; what-ifs from measured figures only.")
    add_data_dir(p)
    p.add_argument("--title", help="one published title's id (default: every published title)")
    for name, param in PARAMS.items():
        p.add_argument(f"--{param.replace('_', '-')}", dest=param, type=str, metavar="USD",
                       help=f"{SOURCES[name].split(':')[0]} (default {getattr(DEFAULTS, name):g})")
    p.add_argument("--what-if", dest="whatifs", default="",
                   help=f"comma-separated: {', '.join(WHATIFS)} or all (default: none)")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write one row per title (and the library)")
    p.set_defaults(func=run_cost)


def run_cost(args: argparse.Namespace) -> int:
    return run_lab(args, _run, table, format_report)


def table(result: cost.CostReport) -> tuple[list[str], list[list[object]]]:
    """One row per title and the library's."""
    columns = cost.csv_columns(result)
    return columns, [[row.get(c, "") for c in columns] for row in cost.csv_rows(result)]


def _run(args: argparse.Namespace) -> cost.CostReport:
    prices = prices_from({param: getattr(args, param) for param in PARAMS.values()})
    whatifs = parse_whatifs(args.whatifs)   # both checked before any database is opened
    from server.cli.analytics import open_reader  # DuckDB loads only when the arguments are good

    data = DataDir.resolve(args.data_dir)
    with Engine(data) as engine, open_reader(data) as conn:
        return cost.run(engine.catalog, engine.origin, engine.jobs, conn, prices, whatifs, args.title)


def usd(value: float) -> str:
    """Dollars with cents, or four decimals below a dollar (a small library costs fractions of a cent)."""
    return f"${value:,.2f}" if abs(value) >= 1 or value == 0 else f"${value:.4f}"


def duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min" if seconds >= 60 \
        else f"{seconds:.0f} s"


def format_report(result: cost.CostReport) -> str:
    """Prices, the window, a line per title, the library's line, then each what-if."""
    p, w = result.prices, result.projection
    lines = [f"prices (USD): storage {p.storage_gb_month:g}/GB-month, egress edge {p.egress_edge_gb:g}/GB, "
             f"origin {p.egress_origin_gb:g}/GB, compute {p.cpu_hour:g}/CPU-hour",
             f"recorded window {duration(w.window.seconds)} (counted as {w.days:.2f} days), "
             f"{result.views} views -> x{w.factor:.1f} for a month",
             f"{'title':<22}{'stored':>11}{'storage/mo':>12}{'edge/mo':>11}{'origin/mo':>11}"
             f"{'encode':>10}{'month':>11}"]
    for usage, c in zip(result.usages, result.costs, strict=True):
        lines.append(_line(usage.video_id, c))
    lines.append(_line("library", result.library))
    for outcome in result.whatifs:
        lines += _whatif_lines(result.whatif_dict(outcome))
    return "\n".join(lines)


def _line(name: str, c: cost.Cost) -> str:
    encode = "unknown" if c.cpu_s is None else usd(c.encode_once)
    return (f"{name[:21]:<22}{c.stored_bytes / 2**20:>8.1f} MiB{usd(c.storage_month):>12}"
            f"{usd(c.edge_month):>11}{usd(c.origin_month):>11}{encode:>10}{usd(c.monthly):>11}")


def _whatif_lines(whatif: dict[str, Any]) -> list[str]:
    """The library's change (or why there is none), then the titles' notes: once when they agree."""
    library, titles = whatif["library"], whatif["titles"]
    head = f"what if: {whatif['label']}: "
    if library["measured"]:
        change = library["monthly_usd_change"]
        before, after = usd(library["monthly_usd_before"]), usd(library["monthly_usd_after"])
        lines = [head + f"{before} -> {after} a month ({'-' if change < 0 else '+'}{usd(abs(change))}; "
                 f"{library['note']})"]
    else:
        lines = [head + str(library["note"])]
    notes = {t["video_id"]: t["note"] for t in titles if not t["measured"]}
    if len(set(notes.values())) == 1:
        return [*lines, f"  every title: {next(iter(notes.values()))}" if len(notes) > 1 else
                f"  {next(iter(notes))}: {next(iter(notes.values()))}"]
    return lines + [f"  {video_id}: {note}" for video_id, note in notes.items()]
