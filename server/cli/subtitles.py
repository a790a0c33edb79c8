"""`miniflix subtitles list|add|remove`: a published title's text tracks, changed without
re-encoding anything; the title is published again whole and `videos/subtitles_changed` tells the
search index to read its cues again and a running server to purge its edges' copies."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from server import config
from server.catalog import PUBLISHED
from server.cli import add_data_dir
from server.engine import Engine
from server.errors import Conflict, MiniflixError, NotFound
from server.events.api import VIDEOS
from server.jobs.locks import job_lock
from server.media.subtitles import TextTrack
from server.media.subtitles_edit import SubtitleEdit, edit_subtitles, list_tracks, read_new_track
from server.media.text_tracks import track_ids
from server.paths import DataDir
from server.registry import BadSetting


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("subtitles", help="list, add or remove a published title's subtitle tracks")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("list", help="the title's text tracks")
    show.add_argument("video_id", metavar="TITLE")
    add = actions.add_parser("add", help="add a .srt/.vtt/.ass/.ssa file as a new track")
    add.add_argument("video_id", metavar="TITLE")
    add.add_argument("file", type=Path)
    add.add_argument("--lang", default="", help="language tag, e.g. fr or pt-BR (default: from the name)")
    add.add_argument("--sdh", action="store_true", help="captions for the deaf and hard of hearing")
    add.add_argument("--forced", action="store_true", help="forced subtitles (foreign lines, signs)")
    remove = actions.add_parser("remove", help="remove a track by its id (see `subtitles list`)")
    remove.add_argument("video_id", metavar="TITLE")
    remove.add_argument("track", metavar="TRACK")
    for parser in (show, add, remove):
        add_data_dir(parser)
        parser.add_argument("--json", action="store_true", help="the title's tracks as JSON")
    p.set_defaults(func=run_subtitles)


def run_subtitles(args: argparse.Namespace) -> int:
    try:
        edit = change(DataDir.resolve(args.data_dir), args)
    except BadSetting:  # main.py reports it with exit code 2
        raise
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in edit.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.action != "list":
        print(edges_note(), file=sys.stderr)
    if args.json:
        print(json.dumps([t.to_dict() for t in edit.tracks], indent=2, ensure_ascii=False))
    else:
        print("\n".join(_line(t.to_dict()) for t in edit.tracks) or "no subtitle tracks")
    return 0


def edges_note() -> str:
    """What happens to the copies edges cached: a server running on this data dir purges its edges
    when it reads the change's event (`server/cdn/edit_purge.py`); this command cannot reach others."""
    from server.cdn.topology import Topology

    ttl = max((edge.ttl_s for edge in Topology.configured().edges), default=float(config.get("cdn_ttl_s")))
    return ("note: the edges of a server running on this data dir drop their copies of the title as soon "
            f"as it reads this change; edges it does not run refresh within their TTL ({ttl:g} s, "
            "setting cdn_ttl_s).")


def _line(track: dict[str, object]) -> str:
    flags = [flag for flag in ("forced", "sdh", "default") if track[flag]]
    return f"{track['id']:<12} {track['name']}  [{', '.join(flags) or 'subtitles'}]  from {track['source']}"


def change(data: DataDir, args: argparse.Namespace) -> SubtitleEdit:
    """Do the action; list needs no lock, add and remove hold the title's job lock (no ingest of
    the same title may publish in between)."""
    with Engine(data) as engine:
        title = engine.catalog.get(args.video_id)
        if args.action == "list":
            return SubtitleEdit(list_tracks(engine.origin, args.video_id))
        if title.status != PUBLISHED:
            raise Conflict(f"Title {args.video_id!r} is not published.", hint="restore it first")
        edit = SubtitleEdit()
        if args.action == "add":
            track, edit.warnings = read_new_track(args.file, title.duration, language=args.lang,
                                                  sdh=args.sdh, forced=args.forced)
            def apply(tracks: list[TextTrack]) -> list[TextTrack]:
                return [*tracks, track]
        else:
            def apply(tracks: list[TextTrack]) -> list[TextTrack]:
                return _without(tracks, args.track, args.video_id)
        with job_lock(data.work / f"{args.video_id}.lock", f"A change of {args.video_id}"):
            edit.tracks = edit_subtitles(engine.origin, args.video_id, data.work, apply)
        engine.events.publish(VIDEOS, args.video_id, {"type": "subtitles_changed", "video_id": args.video_id,
                                                      "at": time.time(), "title": title.to_dict()})
        return edit


def _without(tracks: list[TextTrack], track_id: str, video_id: str) -> list[TextTrack]:
    ids = track_ids(tracks)
    if track_id not in ids:
        raise NotFound(f"Title {video_id!r} has no subtitle track {track_id!r}.",
                       hint=f"its tracks: {', '.join(ids) or 'none'}")
    return [t for t, i in zip(tracks, ids, strict=True) if i != track_id]
