"""A published title's tracks as a studio edits them: list its audio and text tracks, add a subtitle
file sent as bytes, remove, rename or make a track the default — each change published again whole
through `subtitles_edit.edit_subtitles` (no re-encode; a player reads the old title or the new one).

Audio renditions are read from the master playlist as packaging wrote them (roles from the MPD);
renaming one or making it the default rewrites only the manifests (`audio_edit.edit_audio`).
"""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from server.errors import InvalidRequest, NotFound
from server.jobs.locks import job_lock
from server.media.audio_edit import AudioChange, AudioTrack, edit_audio, parse_audio
from server.media.subtitles import MAX_SIDECAR_BYTES, SIDECAR_EXTENSIONS, Cue, TextTrack
from server.media.subtitles_edit import MASTER, MPD, Change, edit_subtitles, list_tracks, read_new_track
from server.media.text_tracks import TRACKS_FILE, TextRendition, load_tracks, track_ids, webvtt
from server.storage.blobstore import BlobStore, title_prefix

MAX_NAME = 80  # what a menu can show
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class NewSubtitle:
    """A subtitle file sent by a client: its name (the language/forced/sdh convention) and bytes,
    with explicit fields that win over the name."""

    file_name: str
    content: bytes
    language: str = ""
    name: str = ""
    sdh: bool = False
    forced: bool = False
    default: bool = False
    warnings: list[str] = field(default_factory=list)


def audio_tracks(store: BlobStore, video_id: str) -> list[AudioTrack]:
    """The title's audio renditions, the master's order (the default first), with their MPD roles;
    one `Main` track when the master names the audio without alternates, none for a silent title."""
    prefix = title_prefix(video_id)
    try:
        master = store.read(f"{prefix}/{MASTER}").decode("utf-8")
    except NotFound:
        raise NotFound(f"Title {video_id!r} is not published.", hint="GET /api/titles lists them") from None
    try:
        mpd = store.read(f"{prefix}/{MPD}").decode("utf-8")
    except NotFound:
        mpd = ""
    return parse_audio(master, mpd)


def text_tracks(store: BlobStore, video_id: str) -> list[TextRendition]:
    """The title's text tracks as published (NotFound when the title is not)."""
    audio_tracks(store, video_id)  # the same NotFound for an unknown title
    return list_tracks(store, video_id)


def apply_change(store: BlobStore, work: Path, video_id: str, change: Change) -> list[TextRendition]:
    """Publish `video_id` again with `change` applied to its text tracks, holding the title's job lock
    (the one ingest and the CLI take) so no other change publishes in between."""
    with job_lock(work / f"{video_id}.lock", f"A change of {video_id}"):
        return edit_subtitles(store, video_id, work, change)


def apply_audio_change(store: BlobStore, work: Path, video_id: str, change: AudioChange) -> list[AudioTrack]:
    """Publish `video_id` again with `change` applied to its audio renditions' names and default,
    under the title's job lock like every other change."""
    with job_lock(work / f"{video_id}.lock", f"A change of {video_id}"):
        return edit_audio(store, video_id, work, change)


def read_upload(upload: NewSubtitle, work: Path, duration: float) -> TextTrack:
    """The uploaded bytes as a track, read from a scratch copy named like the client's file (so the
    name's tags apply and warnings name it); `upload.warnings` gets what reading found."""
    _check_upload(upload)
    folder = work / f"subtitle-upload-{uuid.uuid4().hex[:10]}"
    folder.mkdir(parents=True)
    try:
        path = folder / safe_file_name(upload.file_name)
        path.write_bytes(upload.content)
        track, upload.warnings = read_new_track(path, duration, language=upload.language, sdh=upload.sdh,
                                                forced=upload.forced)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    track.name = upload.name
    return track


def _check_upload(upload: NewSubtitle) -> None:
    if Path(upload.file_name).suffix.lower() not in SIDECAR_EXTENSIONS:
        raise InvalidRequest(f"{safe_file_name(upload.file_name)}: not a subtitle file we read.",
                             hint=f"use one of {', '.join(sorted(SIDECAR_EXTENSIONS))}")
    if not upload.content:
        raise InvalidRequest(f"{safe_file_name(upload.file_name)} is empty.", hint="send the file's bytes")
    if len(upload.content) > MAX_SIDECAR_BYTES:
        raise InvalidRequest(f"{safe_file_name(upload.file_name)} is too large for a subtitle file.",
                             hint=f"at most {MAX_SIDECAR_BYTES // 1_048_576} MB")
    check_name(upload.name, allow_empty=True)


def safe_file_name(name: str) -> str:
    """The last part of a client's file name, reduced to safe characters (tags and extension kept)."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE.sub("_", last).lstrip(".")[-120:] or "subtitles.srt"


def check_name(name: str, *, allow_empty: bool = False) -> str:
    """A track name a menu can show: one line, at most MAX_NAME characters."""
    cleaned = " ".join(name.split())
    if not cleaned and not allow_empty:
        raise InvalidRequest("A track name cannot be empty.", hint="send the name a menu should show")
    if len(cleaned) > MAX_NAME:
        raise InvalidRequest(f"A track name has at most {MAX_NAME} characters.")
    return cleaned


def added(track: TextTrack, default: bool) -> Change:
    """The change that appends `track` (made the default when asked)."""
    def change(tracks: list[TextTrack]) -> list[TextTrack]:
        grown = [*tracks, track]
        return with_default(grown, len(grown) - 1) if default else grown
    return change


def removed(track_id: str, video_id: str) -> Change:
    """The change that drops the track with id `track_id` (NotFound naming the title's ids)."""
    def change(tracks: list[TextTrack]) -> list[TextTrack]:
        index = _index(tracks, track_id, video_id)
        return tracks[:index] + tracks[index + 1:]
    return change


def renamed(track_id: str, name: str, video_id: str) -> Change:
    """The change that gives one track a new menu name (its id and files' language stay)."""
    clean = check_name(name)

    def change(tracks: list[TextTrack]) -> list[TextTrack]:
        index = _index(tracks, track_id, video_id)
        return [replace(t, name=clean) if i == index else t for i, t in enumerate(tracks)]
    return change


def made_default(track_id: str | None, video_id: str) -> Change:
    """The change that makes one track the default (None: no track is shown unless chosen)."""
    def change(tracks: list[TextTrack]) -> list[TextTrack]:
        index = None if track_id is None else _index(tracks, track_id, video_id)
        return with_default(tracks, index)
    return change


def with_default(tracks: list[TextTrack], index: int | None) -> list[TextTrack]:
    """`tracks` with DEFAULT on the one at `index` only (HLS allows one default per group)."""
    return [replace(t, default=i == index) for i, t in enumerate(tracks)]


def _index(tracks: list[TextTrack], track_id: str, video_id: str) -> int:
    ids = track_ids(tracks)
    if track_id not in ids:
        raise NotFound(f"Title {video_id!r} has no subtitle track {track_id[:40]!r}.",
                       hint=f"its tracks: {', '.join(ids) or 'none'}")
    return ids.index(track_id)


def track_as_file(store: BlobStore, video_id: str, track_id: str) -> NewSubtitle:
    """A published text track as a WebVTT file with its flags: what adding it back restores (undo)."""
    for rendition, cues in _published(store, video_id):
        if rendition.id == track_id:
            return NewSubtitle(f"{track_id}.vtt", webvtt(cues).encode("utf-8"), language=rendition.language,
                               name=rendition.name, sdh=rendition.sdh, forced=rendition.forced,
                               default=rendition.default)
    ids = [r.id for r, _ in _published(store, video_id)]
    raise NotFound(f"Title {video_id!r} has no subtitle track {track_id[:40]!r}.",
                   hint=f"its tracks: {', '.join(ids) or 'none'}")


def _published(store: BlobStore, video_id: str) -> list[tuple[TextRendition, list[Cue]]]:
    try:
        return load_tracks(store.read(f"{title_prefix(video_id)}/{TRACKS_FILE}"))
    except NotFound:
        return []
