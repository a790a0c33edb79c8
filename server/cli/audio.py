"""`miniflix audio list|rename|default`: a published title's audio renditions, renamed or made the
default without re-encoding anything; only the manifests are published again, and
`videos/audio_changed` tells a running server to purge its edges' copies."""

from __future__ import annotations

import argparse
import json
import sys
import time

from server.catalog import PUBLISHED
from server.cli import add_data_dir
from server.cli.subtitles import edges_note
from server.engine import Engine
from server.errors import Conflict, MiniflixError
from server.events.api import VIDEOS
from server.media.audio_edit import AudioChange, AudioTrack, audio_made_default, audio_renamed
from server.media.tracks_edit import apply_audio_change, audio_tracks, check_name
from server.paths import DataDir
from server.registry import BadSetting


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("audio", help="list a published title's audio tracks, rename one, set the default")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("list", help="the title's audio renditions")
    show.add_argument("video_id", metavar="TITLE")
    rename = actions.add_parser("rename", help="give an audio track the name players' menus show")
    rename.add_argument("video_id", metavar="TITLE")
    rename.add_argument("track", metavar="TRACK", help="its id, e.g. audio-2 (see `audio list`)")
    rename.add_argument("name", metavar="NAME")
    default = actions.add_parser("default", help="make an audio track the one players start with")
    default.add_argument("video_id", metavar="TITLE")
    default.add_argument("track", metavar="TRACK", help="its id, e.g. audio-2 (see `audio list`)")
    for parser in (show, rename, default):
        add_data_dir(parser)
        parser.add_argument("--json", action="store_true", help="the title's audio tracks as JSON")
    p.set_defaults(func=run_audio)


def run_audio(args: argparse.Namespace) -> int:
    try:
        tracks = change(DataDir.resolve(args.data_dir), args)
    except BadSetting:  # main.py reports it with exit code 2
        raise
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.action != "list":
        print(edges_note(), file=sys.stderr)
    if args.json:
        print(json.dumps([t.to_dict() for t in tracks], indent=2, ensure_ascii=False))
    else:
        print("\n".join(_line(t) for t in tracks) or "no audio track")
    return 0


def _line(track: AudioTrack) -> str:
    facts = [f for f, on in (("default", track.default), ("commentary", track.commentary),
                             ("audio description", track.descriptions)) if on]
    facts += [f"{track.channels} ch"] if track.channels else []
    return f"{track.id:<12} {track.name}  [{', '.join(facts)}]  {track.language}".rstrip()


def change(data: DataDir, args: argparse.Namespace) -> list[AudioTrack]:
    """Do the action: list reads the published master; rename and default publish it again under
    the title's job lock, then announce `videos/audio_changed`."""
    with Engine(data) as engine:
        title = engine.catalog.get(args.video_id)
        if args.action == "list":
            return audio_tracks(engine.origin, args.video_id)
        if title.status != PUBLISHED:
            raise Conflict(f"Title {args.video_id!r} is not published.", hint="restore it first")
        edit: AudioChange = (audio_renamed(args.track, check_name(args.name), args.video_id)
                             if args.action == "rename" else audio_made_default(args.track, args.video_id))
        tracks = apply_audio_change(engine.origin, data.work, args.video_id, edit)
        engine.events.publish(VIDEOS, args.video_id, {"type": "audio_changed", "video_id": args.video_id,
                                                      "at": time.time(), "title": title.to_dict()})
        return tracks
