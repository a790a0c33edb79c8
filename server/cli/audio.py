"""`miniflix audio list|rename|default`: a published title's audio renditions, renamed or made the
default without re-encoding anything; only the manifests are published again, and
`videos/audio_changed` tells a running server to purge its edges' copies."""

from __future__ import annotations

import argparse

from server.cli.tracks_common import add_common_flags, announce, print_tracks, require_published, run_change
from server.engine import Engine
from server.media.audio_edit import AudioChange, AudioTrack, audio_made_default, audio_renamed
from server.media.tracks_edit import apply_audio_change, audio_tracks, check_name
from server.paths import DataDir


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
    add_common_flags((show, rename, default), json_help="the title's audio tracks as JSON")
    p.set_defaults(func=run_audio)


def run_audio(args: argparse.Namespace) -> int:
    tracks = run_change(args, change)
    return 1 if tracks is None else print_tracks(args, tracks, _line, none="no audio track")


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
        require_published(title, args.video_id)
        edit: AudioChange = (audio_renamed(args.track, check_name(args.name), args.video_id)
                             if args.action == "rename" else audio_made_default(args.track, args.video_id))
        tracks = apply_audio_change(engine.origin, data.work, args.video_id, edit)
        announce(engine, title, args.video_id, "audio_changed")
        return tracks
