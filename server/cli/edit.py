"""`miniflix edit ID --title … --description … --tags a,b --creator …`: change a title's metadata in
the catalog and publish `videos/metadata_edited`; the search index follows the event."""

from __future__ import annotations

import argparse
import sys
import time

from server.catalog import PUBLISHED
from server.cli import add_data_dir
from server.engine import Engine
from server.errors import Conflict, InvalidRequest, MiniflixError
from server.events.api import VIDEOS
from server.paths import DataDir
from server.registry import BadSetting


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("edit", help="edit a title's name, description, tags or creator")
    p.add_argument("video_id", metavar="ID")
    add_data_dir(p)
    p.add_argument("--title")
    p.add_argument("--description")
    p.add_argument("--tags", help="comma-separated, e.g. cats,space (replaces the tags)")
    p.add_argument("--creator")
    p.set_defaults(func=run_edit)


def run_edit(args: argparse.Namespace) -> int:
    changes = {k: getattr(args, k) for k in ("title", "description", "tags", "creator")
               if getattr(args, k) is not None}
    try:
        edit(DataDir.resolve(args.data_dir), args.video_id, changes)
    except BadSetting:  # main.py reports it with exit code 2
        raise
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"updated {args.video_id}: {', '.join(changes)}")
    return 0


def edit(data: DataDir, video_id: str, changes: dict[str, str]) -> None:
    if not changes:
        raise InvalidRequest("Nothing to change.", hint="give --title, --description, --tags or --creator")
    if "title" in changes and not changes["title"].strip():
        raise InvalidRequest("A title cannot be empty.")
    engine = Engine(data)
    catalog = engine.catalog
    if catalog.get(video_id).status != PUBLISHED:
        raise Conflict(f"Title {video_id!r} is not published; only published titles can be edited.",
                       hint="restore it first")
    title = catalog.update_metadata(video_id, **changes)
    with engine:
        engine.events.publish(VIDEOS, video_id, {"type": "metadata_edited", "video_id": video_id,
                                                 "at": time.time(), "title": title.to_dict()})
