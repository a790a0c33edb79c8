"""Ingest jobs: list, status (`state, current, total, eta`), cancel, retry, remove; register a local file."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify

from server.errors import InvalidRequest
from server.http.context import json_body, need

bp = Blueprint("jobs", __name__, url_prefix="/api/jobs")


@bp.get("")
def list_jobs() -> Response:
    return jsonify({"jobs": [job.to_dict() for job in need("ingest").list_jobs()]})


@bp.post("")
def register_path() -> Response:
    """`{"path": "/abs/file.mp4", "name": "optional display name"}`: ingest a file already on disk."""
    body = json_body()
    raw = body.get("path")
    if not isinstance(raw, str) or not raw:
        raise InvalidRequest("`path` must be the absolute path of a media file on the server.")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise InvalidRequest(f"`path` {raw!r} is relative; give an absolute path.")
    name = body.get("name") if isinstance(body.get("name"), str) else None
    job = need("ingest").submit(path, name or path.name)
    return jsonify(job.to_dict()), 202  # type: ignore[return-value]


@bp.get("/<job_id>")
def get_job(job_id: str) -> Response:
    return jsonify(need("ingest").get(job_id).to_dict())


@bp.post("/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    return jsonify(need("ingest").cancel(job_id).to_dict())


@bp.post("/<job_id>/retry")
def retry_job(job_id: str) -> Response:
    return jsonify(need("ingest").retry(job_id).to_dict())


@bp.delete("/<job_id>")
def remove_job(job_id: str) -> Response:
    need("ingest").remove(job_id)
    return jsonify({"removed": job_id})
