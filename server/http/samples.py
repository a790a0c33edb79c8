"""`POST /api/samples`: make the sample clip with ffmpeg (on the server) and ingest it, so a first
start with an empty library can try everything at once; nothing is downloaded."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from server.errors import InvalidRequest
from server.http.context import json_body, need, services
from server.http.demo import seed_when_published
from server.media.sample import make_sample_clip

bp = Blueprint("samples", __name__, url_prefix="/api/samples")
SAMPLE_NAME = "miniflix-sample.mp4"


@bp.post("")
def ingest_sample() -> Response:
    """Body `{}` or `{"seconds": 5..120, "demo_week": true}`; 202 with the job, like `POST /api/jobs`.
    Once the clip publishes, a demo week of viewing is seeded (server/demo_week.py) unless
    `demo_week` is false, so the analytics charts have something to show on first start."""
    body = json_body()
    seconds, demo_week = body.get("seconds", 20), body.get("demo_week", True)
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 2 <= seconds <= 120:
        raise InvalidRequest("`seconds` must be a whole number from 2 to 120.")
    if not isinstance(demo_week, bool):
        raise InvalidRequest("`demo_week` must be true or false.")
    clip = make_sample_clip(services().data.uploads / f"sample-{seconds}s.mp4", seconds)
    job = need("ingest").submit(clip, SAMPLE_NAME)
    if demo_week and services().analytics is not None:
        seed_when_published(services(), job.record.job_id)
    return jsonify(job.to_dict()), 202  # type: ignore[return-value]
