"""`miniflix demo week|list|remove`: a generated week of viewing for the analytics (server/demo_week.py).

`week` publishes one over the published titles; `list` shows the demo batches analytics holds;
`remove BATCH` (or `--all`) takes them out again. Real viewing is never touched.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from server.cli import add_data_dir
from server.demo_week import DemoWeek
from server.engine import Engine
from server.errors import MiniflixError
from server.registry import BadSetting


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("demo", help="seed, list or remove a generated week of viewing for the analytics")
    p.add_argument("action", choices=["week", "list", "remove"],
                   help="week: seed one; list: the demo batches in analytics; remove: take one out")
    p.add_argument("batch", nargs="?", help="remove: the batch id (see `demo list`)")
    p.add_argument("--all", action="store_true", help="remove: every demo batch")
    p.add_argument("--days", type=int, default=7, help="week: days of viewing up to now (default 7)")
    p.add_argument("--views-per-day", type=int, default=150, help="week: sessions per day (default 150)")
    p.add_argument("--seed", type=int, default=1, help="week: random seed (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_data_dir(p)
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    try:
        with Engine.open(args.data_dir) as engine:
            if args.action == "week":
                return _week(engine, args)
            return _list(engine, args) if args.action == "list" else _remove(engine, args)
    except BadSetting:  # main.py reports it with exit code 2
        raise
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _week(engine: Engine, args: argparse.Namespace) -> int:
    seeded = engine.seed_demo_week(DemoWeek(days=args.days, views_per_day=args.views_per_day, seed=args.seed))
    if args.json:
        print(json.dumps(seeded.to_dict()))
    else:
        events = ", ".join(f"{n} {topic}" for topic, n in seeded.events.items())
        print(f"Seeded demo batch {seeded.batch}: {seeded.sessions} sessions ({events} events).\n"
              f"Remove it with: miniflix demo remove {seeded.batch}")
    return 0


def _batches(engine: Engine) -> list[dict[str, object]]:
    analytics = engine.analytics()
    try:
        analytics.catch_up()
        return analytics.demo_batches()
    finally:
        analytics.stop()


def _list(engine: Engine, args: argparse.Namespace) -> int:
    batches = _batches(engine)
    if args.json:
        print(json.dumps(batches))
    elif not batches:
        print("No demo data in the analytics.")
    for b in [] if args.json else batches:
        span = " to ".join(time.strftime("%Y-%m-%d %H:%M", time.localtime(float(str(b[k]))))
                           for k in ("first_at", "last_at"))
        print(f"{b['batch']}  {b['views']} views  {span}")
    return 0


def _remove(engine: Engine, args: argparse.Namespace) -> int:
    if bool(args.batch) == bool(args.all):
        print("miniflix demo remove: give one batch id or --all", file=sys.stderr)
        return 2
    known = [str(b["batch"]) for b in _batches(engine)]
    chosen = known if args.all else [args.batch]
    if args.batch and args.batch not in known:
        print(f"error: no demo batch {args.batch!r} in the analytics (`miniflix demo list`)", file=sys.stderr)
        return 1
    for batch in chosen:
        engine.remove_demo_week(batch)
    analytics = engine.analytics()
    try:
        analytics.catch_up()
    finally:
        analytics.stop()
    print(json.dumps({"removed": chosen}) if args.json else f"Removed {len(chosen)} demo batch(es).")
    return 0
