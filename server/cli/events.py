"""`miniflix events [--json]`: topics, partitions, offsets and consumer-group lags of the event log."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from server.cli import add_data_dir
from server.engine import Engine
from server.errors import MiniflixError
from server.events.admin import PartitionInfo
from server.registry import BadSetting


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("events", help="show event-log topics, partitions, offsets and group lags")
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="one JSON object per partition")
    p.set_defaults(func=run_events)


def run_events(args: argparse.Namespace) -> int:
    try:
        with Engine.open(args.data_dir) as engine:
            rows = engine.events.describe()
    except BadSetting:  # main.py reports it with exit code 2
        raise
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        print(format_table(rows))
    return 0


def format_table(rows: list[PartitionInfo]) -> str:
    """One line per partition that ever held an event; lags as `group=N`."""
    used = [r for r in rows if r.next_offset]
    if not used:
        return "The event log is empty."
    lines = [f"{'topic':<10} {'part':>4} {'earliest':>9} {'next':>9} {'kept':>9}  lags"]
    for r in used:
        lags = " ".join(f"{g}={n}" for g, n in sorted(r.lags.items())) or "-"
        lines.append(f"{r.topic:<10} {r.partition:>4} {r.earliest:>9} {r.next_offset:>9} {r.kept:>9}  {lags}")
    return "\n".join(lines)
