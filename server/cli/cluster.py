"""`miniflix cluster up|status|down [--data-dir DIR] [--json]`: a local cluster of the real engines.

`up` starts a 3-node NATS JetStream cluster, a SeaweedFS S3 server and a Dask scheduler with two
workers on 127.0.0.1 (in `DIR/cluster/`), waits until each is healthy and prints the settings that
use them, as shell lines (`eval "$(miniflix cluster up)"`) or JSON. Exit 0 on success, 1 when an
engine cannot start or is unhealthy (`status`), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from server.cli import add_data_dir
from server.cluster.local import ClusterState, MemberStatus
from server.errors import MiniflixError
from server.paths import DataDir

ACTIONS = ("up", "status", "down")


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("cluster", help="start, show or stop a local cluster of the real engines "
                        "(NATS JetStream, SeaweedFS S3, Dask; Spark with --spark) on 127.0.0.1")
    p.add_argument("action", choices=ACTIONS, help="up: start and print the settings; status; down: stop")
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--spark", action="store_true", help="up: also a Spark standalone master and one worker "
                   "(for `analytics QUERY --engine spark --master $MINIFLIX_SPARK_MASTER`)")
    p.set_defaults(func=run_cluster)


def run_cluster(args: argparse.Namespace) -> int:
    from server.cluster import local

    folder = DataDir.resolve(args.data_dir).root / "cluster"
    try:
        if args.action == "up":
            extra = " and Spark standalone" if args.spark else ""
            print(f"Starting NATS JetStream (3 nodes), SeaweedFS, Dask (2 workers){extra} on 127.0.0.1…",
                  file=sys.stderr)
            state, started = local.cluster_up(folder, spark=args.spark)
            return _print_up(state, started, args.json)
        if args.action == "status":
            return _print_status(local.cluster_status(folder), args.json)
        stopped = local.cluster_down(folder)
    except ImportError as exc:
        print(f"error: the cluster needs the cluster extra ({exc}); "
              "install it with `pip install miniflix-studio[cluster]`", file=sys.stderr)
        return 1
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"stopped": [m.name for m in stopped]}))
    else:
        print(f"Stopped {len(stopped)} process(es)." if stopped else "No cluster was running here.")
    return 0


def _print_up(state: ClusterState, started: bool, as_json: bool) -> int:
    if as_json:
        print(json.dumps({**state.to_json(), "started": started}, indent=2))
        return 0
    print(("Cluster started." if started else "Cluster already running.")
          + " Use it with these settings (eval them in a shell, or set them in the studio's environment):",
          file=sys.stderr)
    for name, value in state.settings.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def _print_status(rows: list[MemberStatus], as_json: bool) -> int:
    healthy = bool(rows) and all(r.healthy for r in rows)
    if as_json:
        print(json.dumps({"healthy": healthy, "members": [
            {"name": r.member.name, "engine": r.member.engine, "pid": r.member.pid,
             "address": r.member.address, "running": r.running, "healthy": r.healthy} for r in rows]},
            indent=2))
    elif not rows:
        print("No cluster recorded here; start one with `miniflix cluster up`.")
    else:
        for r in rows:
            state = "healthy" if r.healthy else ("running, unhealthy" if r.running else "stopped")
            m = r.member
            print(f"{m.name:<12} {m.engine:<16} pid {m.pid:<8} {m.address:<28} {state}")
    return 0 if healthy else 1
