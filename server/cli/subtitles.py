"""`miniflix subtitles list|add|remove`: a published title's text tracks, changed without
re-encoding anything; the title is published again whole and `videos/subtitles_changed` tells the
search index to read its cues again and a running server to purge its edges' copies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.cli.tracks_common import add_common_flags, announce, print_tracks, require_published, run_change
from server.engine import Engine
from server.errors import NotFound
from server.jobs.locks import job_lock
from server.media.subtitles import TextTrack
from server.media.subtitles_edit import SubtitleEdit, edit_subtitles, list_tracks, read_new_track
from server.media.text_tracks import TextRendition, track_ids
from server.paths import DataDir


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
    add_common_flags((show, add, remove), json_help="the title's tracks as JSON")
    p.set_defaults(func=run_subtitles)


def run_subtitles(args: argparse.Namespace) -> int:
    edit = run_change(args, change)
    if edit is None:
        return 1
    for warning in edit.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return print_tracks(args, edit.tracks, _line, none="no subtitle tracks")


def _line(track: TextRendition) -> str:
    flags = [flag for flag, on in (("forced", track.forced), ("sdh", track.sdh), ("default", track.default))
             if on]
    return f"{track.id:<12} {track.name}  [{', '.join(flags) or 'subtitles'}]  from {track.source}"


def change(data: DataDir, args: argparse.Namespace) -> SubtitleEdit:
    """Do the action; list needs no lock, add and remove hold the title's job lock (no ingest of
    the same title may publish in between)."""
    with Engine(data) as engine:
        title = engine.catalog.get(args.video_id)
        if args.action == "list":
            return SubtitleEdit(list_tracks(engine.origin, args.video_id))
        require_published(title, args.video_id)
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
        announce(engine, title, args.video_id, "subtitles_changed")
        return edit


def _without(tracks: list[TextTrack], track_id: str, video_id: str) -> list[TextTrack]:
    ids = track_ids(tracks)
    if track_id not in ids:
        raise NotFound(f"Title {video_id!r} has no subtitle track {track_id!r}.",
                       hint=f"its tracks: {', '.join(ids) or 'none'}")
    return [t for t, i in zip(tracks, ids, strict=True) if i != track_id]
