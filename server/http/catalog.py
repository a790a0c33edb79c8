"""Titles: list, get, edit, delete (to the trash, with undo) and restore."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from server.catalog import DELETED, Title
from server.errors import Conflict, InvalidRequest
from server.events.api import VIDEOS
from server.http.context import json_body, need, services
from server.storage.blobstore import title_prefix

bp = Blueprint("catalog", __name__, url_prefix="/api/titles")
STATUSES = ("published", "failed", "deleted", "all")


def title_json(title: Title) -> dict[str, Any]:
    """A title plus the URLs a client plays it from."""
    data = title.to_dict()
    data["urls"] = {"play_hls": f"/play/{title.video_id}/master.m3u8",
                    "play_dash": f"/play/{title.video_id}/manifest.mpd",
                    "origin_hls": f"/origin/{title_prefix(title.video_id)}/master.m3u8",
                    "steer": f"/steer/{title.video_id}"}
    return data


@bp.get("")
def list_titles() -> Response:
    status = request.args.get("status", "published")
    if status not in STATUSES:
        raise InvalidRequest(f"Unknown status {status!r}; use one of {list(STATUSES)}.")
    titles = need("catalog").list(None if status == "all" else status)
    return jsonify({"titles": [title_json(t) for t in titles]})


@bp.get("/<video_id>")
def get_title(video_id: str) -> Response:
    return jsonify(title_json(need("catalog").get(video_id)))


@bp.patch("/<video_id>")
def edit_title(video_id: str) -> Response:
    """Change any of title/description/tags/creator; every field is checked before anything changes."""
    changes = json_body()
    for name, value in changes.items():
        _check_field(name, value)
    title = need("catalog").update_metadata(video_id, **changes)
    _announce(video_id, "metadata_edited", title=title.to_dict())
    return jsonify(title_json(title))


# Longest text per editable field, and the tag limits (a comma string is split like a list).
TEXT_LIMITS = {"title": 200, "description": 5000, "creator": 200, "tags": 2000}
MAX_TAGS, MAX_TAG = 50, 50


def _check_field(name: str, value: Any) -> None:
    """A 400 naming the field when it is unknown, of the wrong type or too long (null leaves it as is)."""
    if name not in TEXT_LIMITS:
        raise InvalidRequest(f"Cannot edit {name[:40]!r}; editable: {list(TEXT_LIMITS)}.")
    if value is None:
        return
    if name == "tags" and isinstance(value, list):
        if len(value) > MAX_TAGS or not all(isinstance(t, str) and len(t) <= MAX_TAG for t in value):
            raise InvalidRequest(f"`tags` must be at most {MAX_TAGS} strings of at most {MAX_TAG} "
                                 "characters each.")
    elif not isinstance(value, str) or len(value) > TEXT_LIMITS[name]:
        kind = "a list of strings or a comma-separated string" if name == "tags" else "a string"
        raise InvalidRequest(f"`{name}` must be {kind} of at most {TEXT_LIMITS[name]} characters.")


@bp.delete("/<video_id>")
def delete_title(video_id: str) -> Response:
    """Move the title's files to the trash and mark it deleted; `restore` undoes it."""
    catalog = need("catalog")
    title = catalog.get(video_id)
    if title.status == DELETED:
        raise Conflict(f"Title {video_id!r} is already deleted.", hint="POST …/restore brings it back.")
    token = need("store").trash(title_prefix(video_id))
    title = catalog.mark_deleted(video_id, token)
    cdn = services().cdn
    if cdn is not None:     # else the edges serve their cached copies as hits until they expire
        cdn.purge_title(video_id)
    _announce(video_id, "deleted")
    return jsonify({**title_json(title), "undo": f"/api/titles/{video_id}/restore"})


@bp.post("/<video_id>/restore")
def restore_title(video_id: str) -> Response:
    catalog = need("catalog")
    title = catalog.get(video_id)
    if title.status != DELETED:
        raise Conflict(f"Title {video_id!r} is not deleted (status {title.status}).")
    need("store").restore(title.trash_token, title_prefix(video_id))
    title = catalog.mark_restored(video_id)
    cdn = services().cdn
    if cdn is not None:     # nothing cached while it was deleted may linger on an edge
        cdn.purge_title(video_id)
    _announce(video_id, "restored", title=title.to_dict())
    return jsonify(title_json(title))


def _announce(video_id: str, kind: str, **extra: Any) -> None:
    """Publish a `videos` event after the change is durable (EVENTS.md)."""
    services().publish(VIDEOS, video_id, {"type": kind, "video_id": video_id, "at": time.time(), **extra})
