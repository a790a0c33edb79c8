"""A title's tracks: list its audio and text tracks; add a subtitle file, remove, rename or make a
text track the default; rename an audio rendition or make it the default. Every change publishes the
title again whole, without re-encoding (`server/media/tracks_edit.py`), purges the edges' copies and
announces `videos/subtitles_changed` or `videos/audio_changed`.

`POST …/tracks/subtitles` takes JSON (the API's body limit): `file_name` (its tags give language,
`forced`, `sdh`: `clip.fr.sdh.srt`), `content_base64`, and optional `language`, `name`, `sdh`,
`forced`, `default` that win over the name. Removing answers with `undo`: the body that adds the
removed track back.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify

from server.catalog import PUBLISHED, Title
from server.errors import Conflict, InvalidRequest
from server.events.api import VIDEOS
from server.http.context import json_body, need, services
from server.media.audio_edit import AudioChange, audio_made_default, audio_renamed
from server.media.subtitles_edit import Change
from server.media.text_tracks import TextRendition
from server.media.tracks_edit import (
    NewSubtitle,
    added,
    apply_audio_change,
    apply_change,
    audio_tracks,
    check_name,
    made_default,
    read_upload,
    removed,
    renamed,
    text_tracks,
    track_as_file,
)

T = TypeVar("T")
bp = Blueprint("subtitles", __name__, url_prefix="/api/titles")

UPLOAD_FIELDS = {"file_name": str, "content_base64": str, "language": str, "name": str, "sdh": bool,
                 "forced": bool, "default": bool}
PATCH_FIELDS = {"name": str, "default": bool}
MAX_LANGUAGE = 35  # the longest BCP 47 tags in use


@bp.get("/<video_id>/tracks")
def list_title_tracks(video_id: str) -> Response:
    need("catalog").get(video_id)
    return jsonify(_tracks(video_id))


@bp.post("/<video_id>/tracks/subtitles")
def add_subtitles(video_id: str) -> tuple[Response, int]:
    upload = _upload(_fields(json_body(), UPLOAD_FIELDS, required=("file_name", "content_base64")))
    title = _published_title(video_id)
    track = read_upload(upload, services().data.work, title.duration)
    texts = _publish(title, added(track, upload.default))
    # the new track is appended: the last one published
    return jsonify({**_tracks(video_id, texts), "added": texts[-1].id, "warnings": upload.warnings}), 201


@bp.patch("/<video_id>/tracks/subtitles/<track_id>")
def change_subtitles(video_id: str, track_id: str) -> Response:
    """`{"name": …}` renames the track, `{"default": true|false}` makes it (or no track) the default."""
    fields = _fields(json_body(), PATCH_FIELDS)
    if not fields:
        raise InvalidRequest("Nothing to change.", hint='send {"name": "…"} and/or {"default": true}')
    title = _published_title(video_id)
    changes: list[Change] = []
    if "name" in fields:
        changes.append(renamed(track_id, fields["name"], video_id))
    if "default" in fields:
        changes.append(made_default(track_id if fields["default"] else None, video_id))
    texts = _publish(title, _chain(changes))
    return jsonify(_tracks(video_id, texts))


@bp.patch("/<video_id>/tracks/audio/<track_id>")
def change_audio(video_id: str, track_id: str) -> Response:
    """`{"name": …}` renames an audio rendition, `{"default": true}` makes it the default (an audio
    group always has one: make another track the default instead of `false`)."""
    fields = _fields(json_body(), PATCH_FIELDS)
    if not fields:
        raise InvalidRequest("Nothing to change.", hint='send {"name": "…"} and/or {"default": true}')
    if fields.get("default") is False:
        raise InvalidRequest("An audio track cannot be made not the default: players need one.",
                             hint="make another audio track the default instead")
    title = _published_title(video_id)
    changes: list[AudioChange] = []
    if "name" in fields:
        changes.append(audio_renamed(track_id, check_name(fields["name"]), video_id))
    if "default" in fields:
        changes.append(audio_made_default(track_id, video_id))
    audio = apply_audio_change(need("store"), services().data.work, video_id, _chain(changes))
    _announce(title, "audio_changed")
    return jsonify({"video_id": video_id, "audio": [a.to_dict() for a in audio],
                    "subtitles": [t.to_dict() for t in text_tracks(need("store"), video_id)]})


@bp.delete("/<video_id>/tracks/subtitles/<track_id>")
def remove_subtitles(video_id: str, track_id: str) -> Response:
    title = _published_title(video_id)
    before = track_as_file(need("store"), video_id, track_id)
    texts = _publish(title, removed(track_id, video_id))
    undo = {"file_name": before.file_name, "content_base64": base64.b64encode(before.content).decode("ascii"),
            "language": before.language, "name": before.name, "sdh": before.sdh, "forced": before.forced,
            "default": before.default}
    return jsonify({**_tracks(video_id, texts), "removed": track_id, "undo": undo})


def _tracks(video_id: str, texts: list[TextRendition] | None = None) -> dict[str, Any]:
    store = need("store")
    subtitles = text_tracks(store, video_id) if texts is None else texts
    return {"video_id": video_id, "audio": [a.to_dict() for a in audio_tracks(store, video_id)],
            "subtitles": [t.to_dict() for t in subtitles]}


def _published_title(video_id: str) -> Title:
    title: Title = need("catalog").get(video_id)
    if title.status != PUBLISHED:
        raise Conflict(f"Title {video_id!r} is not published (status {title.status}).",
                       hint="restore it first")
    return title


def _publish(title: Title, change: Change) -> list[TextRendition]:
    """Apply and publish; then no edge may keep serving the old manifests, and search reads the cues."""
    texts = apply_change(need("store"), services().data.work, title.video_id, change)
    _announce(title, "subtitles_changed")
    return texts


def _announce(title: Title, event: str) -> None:
    """After a republish no edge may keep serving the old manifests; then tell the listeners."""
    cdn = services().cdn
    if cdn is not None:
        cdn.purge_title(title.video_id)
    services().publish(VIDEOS, title.video_id, {"type": event, "video_id": title.video_id,
                                                "at": time.time(), "title": title.to_dict()})


def _chain(changes: list[Callable[[list[T]], list[T]]]) -> Callable[[list[T]], list[T]]:
    """The changes applied one after the other (a rename, then the default)."""
    def change(tracks: list[T]) -> list[T]:
        for step in changes:
            tracks = step(tracks)
        return tracks
    return change


def _fields(body: dict[str, Any], allowed: dict[str, type], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body's fields, each known and of its type (a 400 naming the first that is not)."""
    for name, value in body.items():
        kind = allowed.get(name)
        if kind is None:
            raise InvalidRequest(f"Unknown field {name[:40]!r}; known: {sorted(allowed)}.")
        if not isinstance(value, kind):
            raise InvalidRequest(f"`{name}` must be a {'boolean' if kind is bool else 'string'}.")
    for name in required:
        if name not in body:
            raise InvalidRequest(f"`{name}` is required.", hint=f"send {', '.join(required)}")
    return body


def _upload(fields: dict[str, Any]) -> NewSubtitle:
    try:
        content = base64.b64decode(fields["content_base64"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("`content_base64` is not base64.",
                             hint="send the file's bytes base64-encoded") from None
    language = fields.get("language", "")
    if len(language) > MAX_LANGUAGE or any(c.isspace() for c in language):
        raise InvalidRequest(f"`language` must be a language tag like fr or pt-BR, at most {MAX_LANGUAGE} "
                             "characters.")
    return NewSubtitle(fields["file_name"], content, language=language, name=fields.get("name", ""),
                       sdh=fields.get("sdh", False), forced=fields.get("forced", False),
                       default=fields.get("default", False))
