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
    title = need("catalog").update_metadata(video_id, **json_body())
    _announce(video_id, "metadata_edited", title=title.to_dict())
    return jsonify(title_json(title))


@bp.delete("/<video_id>")
def delete_title(video_id: str) -> Response:
    """Move the title's files to the trash and mark it deleted; `restore` undoes it."""
    catalog = need("catalog")
    title = catalog.get(video_id)
    if title.status == DELETED:
        raise Conflict(f"Title {video_id!r} is already deleted.", hint="POST …/restore brings it back.")
    token = need("store").trash(title_prefix(video_id))
    title = catalog.mark_deleted(video_id, token)
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
    _announce(video_id, "restored", title=title.to_dict())
    return jsonify(title_json(title))


def _announce(video_id: str, kind: str, **extra: Any) -> None:
    """Publish a `videos` event after the change is durable (EVENTS.md)."""
    services().publish(VIDEOS, video_id, {"type": kind, "video_id": video_id, "at": time.time(), **extra})
