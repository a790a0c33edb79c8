"""`miniflix events [--json]`: topics, partitions, offsets and consumer-group lags of the event log.
`miniflix events migrate --to nats://h:p,…`: copy the data dir's embedded log into a JetStream bus."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from server.cli import add_data_dir
from server.engine import Engine
from server.errors import MiniflixError
from server.events.admin import PartitionInfo
from server.paths import DataDir
from server.registry import BadSetting


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("events", help="show event-log topics, partitions, offsets and group lags; "
                        "'events migrate --to nats://…' copies the embedded log into a JetStream bus")
    p.add_argument("action", nargs="?", choices=["migrate"],
                   help="migrate: copy the data dir's embedded log into the bus given by --to "
                   "(rerun it safely: what is there already is not copied again)")
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="one JSON object per partition")
    p.add_argument("--to", metavar="nats://HOST:PORT[,…]", help="the bus to migrate into")
    p.set_defaults(func=run_events)


def run_events(args: argparse.Namespace) -> int:
    if args.action == "migrate":
        return run_migrate(args)
    if args.to:
        return _usage("miniflix events: --to is for 'events migrate'")
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


def run_migrate(args: argparse.Namespace) -> int:
    """Copy, with progress on stderr; exit 1 if the final count check finds a partition short."""
    if not args.to:
        return _usage("miniflix events migrate: --to nats://HOST:PORT[,HOST:PORT…] is required")
    from server.events.log import open_event_log
    from server.events.migrate import migrate
    from server.events.nats_log import open_nats_log

    data = DataDir.resolve(args.data_dir)
    if not data.events_db.exists():
        print(f"error: {data.root} has no embedded event log (events.sqlite) to migrate.", file=sys.stderr)
        return 1
    try:
        with open_event_log(data) as source, open_nats_log(args.to, data) as bus:
            report = migrate(source, bus, lambda line: print(f"events migrate: {line}", file=sys.stderr))
    except MiniflixError as exc:
        print(f"error: --to {args.to!r}: {exc}", file=sys.stderr)
        return 1
    print(f"{report.copied} events copied, {report.present} already on the bus, "
          f"{report.source} in the embedded log.")
    for group, partitions in sorted(report.groups.items()):
        print(f"group {group}: committed offsets carried over on {partitions} partition(s)")
    if not report.complete:
        print(f"error: the bus holds fewer events than the embedded log in {', '.join(report.short)}; "
              "run the migration again.", file=sys.stderr)
        return 1
    print(f"Count check passed. Set MINIFLIX_EVENT_LOG={args.to} to run on the bus (analytics "
          "replays it once: its database notices that it was loaded from another log).")
    return 0


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


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
