"""What `miniflix audio` and `miniflix subtitles` share: their common flags, the published-title
check and announcement of a track change, and how a command's result is printed."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from server import config
from server.catalog import PUBLISHED, Title
from server.cli import add_data_dir
from server.engine import Engine
from server.errors import Conflict, MiniflixError
from server.events.api import VIDEOS
from server.paths import DataDir
from server.registry import BadSetting

Result = TypeVar("Result")


class Track(Protocol):
    """A track the commands list: it has a JSON form."""

    def to_dict(self) -> dict[str, Any]: ...


TrackT = TypeVar("TrackT", bound=Track)


def add_common_flags(parsers: Iterable[argparse.ArgumentParser], json_help: str) -> None:
    """`--data-dir` and `--json` on every action of a track command."""
    for parser in parsers:
        add_data_dir(parser)
        parser.add_argument("--json", action="store_true", help=json_help)


def run_change(args: argparse.Namespace,
               change: Callable[[DataDir, argparse.Namespace], Result]) -> Result | None:
    """The command's change on the data dir, or None once its error is printed (exit code 1); a bad
    setting goes up, for main.py reports it with exit code 2."""
    try:
        return change(DataDir.resolve(args.data_dir), args)
    except BadSetting:
        raise
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def print_tracks(args: argparse.Namespace, tracks: Sequence[TrackT], line: Callable[[TrackT], str],
                 none: str) -> int:
    """The title's tracks after the action, as JSON or a line each (`none` if it has none); a change
    also notes what becomes of the edges' copies."""
    if args.action != "list":
        print(edges_note(), file=sys.stderr)
    if args.json:
        print(json.dumps([t.to_dict() for t in tracks], indent=2, ensure_ascii=False))
    else:
        print("\n".join(line(t) for t in tracks) or none)
    return 0


def require_published(title: Title, video_id: str) -> None:
    """Tracks change only on a published title (a deleted one is restored first)."""
    if title.status != PUBLISHED:
        raise Conflict(f"Title {video_id!r} is not published.", hint="restore it first")


def announce(engine: Engine, title: Title, video_id: str, kind: str) -> None:
    """Publish `videos/<kind>` so a running server purges its edges (and search reads cues again)."""
    engine.events.publish(VIDEOS, video_id, {"type": kind, "video_id": video_id,
                                             "at": time.time(), "title": title.to_dict()})


def edges_note() -> str:
    """What happens to the copies edges cached: a server running on this data dir purges its edges
    when it reads the change's event (`server/cdn/edit_purge.py`); this command cannot reach others."""
    from server.cdn.topology import Topology

    ttl = max((edge.ttl_s for edge in Topology.configured().edges), default=float(config.get("cdn_ttl_s")))
    return ("note: the edges of a server running on this data dir drop their copies of the title as soon "
            f"as it reads this change; edges it does not run refresh within their TTL ({ttl:g} s, "
            "setting cdn_ttl_s).")
