"""`POST /api/samples`: make the sample clip with ffmpeg (on the server) and ingest it, so a first
start with an empty library can try everything at once; nothing is downloaded."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from server.errors import InvalidRequest
from server.http.context import json_body, need, services
from server.media.sample import make_sample_clip

bp = Blueprint("samples", __name__, url_prefix="/api/samples")
SAMPLE_NAME = "miniflix-sample.mp4"


@bp.post("")
def ingest_sample() -> Response:
    """Body `{}` or `{"seconds": 5..120}`; 202 with the job, like `POST /api/jobs`."""
    seconds = json_body().get("seconds", 20)
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 2 <= seconds <= 120:
        raise InvalidRequest("`seconds` must be a whole number from 2 to 120.")
    clip = make_sample_clip(services().data.uploads / f"sample-{seconds}s.mp4", seconds)
    job = need("ingest").submit(clip, SAMPLE_NAME)
    return jsonify(job.to_dict()), 202  # type: ignore[return-value]
