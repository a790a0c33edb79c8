"""Uploads and jobs over the API, with the real ingest service: upload → job → published title."""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.http.services import Services
from tests.conftest import ClipMaker


def wait_job(client: FlaskClient, job_id: str, states: tuple[str, ...],
             timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").get_json()
        if job["state"] in states:
            return job
        time.sleep(0.2)
    pytest.fail(f"job {job_id} never reached {states}; last: {job}")


def uploads_left(services: Services) -> list[str]:
    return sorted(p.name for p in services.data.uploads.iterdir())


def test_upload_becomes_a_published_playable_title(client: FlaskClient, ingest: Services, cdn: Services,
                                                   make_clip: ClipMaker) -> None:
    clip = make_clip("my holiday.mp4", seconds=2)
    response = client.post("/api/uploads?name=my holiday.mp4", data=clip.read_bytes(),
                           content_type="application/octet-stream")
    assert response.status_code == 202
    job = response.get_json()
    assert job["state"] in ("queued", "running") and {"current", "total", "eta_s"} <= set(job)
    done = wait_job(client, job["job_id"], ("published", "failed"))
    assert done["state"] == "published", done["error"]
    title = client.get(f"/api/titles/{done['video_id']}").get_json()
    assert title["original_name"] == "my holiday.mp4" and title["duration"] == pytest.approx(2, abs=0.2)
    master = client.get(title["urls"]["origin_hls"])
    assert master.status_code == 200 and b"#EXT-X-STREAM-INF" in master.data
    assert job["job_id"] in [j["job_id"] for j in client.get("/api/jobs").get_json()["jobs"]]
    dash = client.get(title["urls"]["play_dash"] + "?region=us-east")
    assert dash.status_code == 302
    mpd = client.get(dash.headers["Location"])  # the request router on this server serves the MPD
    assert mpd.status_code == 200 and mpd.mimetype == "application/dash+xml" and b"<MPD" in mpd.data


def test_a_multipart_upload_gets_a_sanitised_name(client: FlaskClient, ingest: Services) -> None:
    form = {"file": (io.BytesIO(b"not a video at all"), "../../etc/evil name.mp4")}
    response = client.post("/api/uploads", data=form, content_type="multipart/form-data")
    assert response.status_code == 202
    stored = response.get_json()["upload"]
    assert stored.endswith("-evil_name.mp4") and "/" not in stored and ".." not in stored
    assert (ingest.data.uploads / stored).is_file()
    failed = wait_job(client, response.get_json()["job_id"], ("failed", "published"))
    assert failed["state"] == "failed" and failed["error"]
    assert client.post(f"/api/jobs/{failed['job_id']}/cancel").status_code == 409
    retried = client.post(f"/api/jobs/{failed['job_id']}/retry")
    assert retried.status_code == 200 and retried.get_json()["state"] == "queued"


def test_an_upload_over_the_limit_is_413_and_leaves_nothing(ingest: Services, app: Flask) -> None:
    app.config["UPLOAD_LIMIT_BYTES"] = 1000
    client = app.test_client()
    declared = client.post("/api/uploads?name=big.mp4", data=b"x" * 5000)
    assert declared.status_code == 413 and declared.get_json()["error"] == "TooLarge"
    undeclared = client.post("/api/uploads?name=big.mp4", input_stream=io.BytesIO(b"x" * 1200),
                             environ_overrides={"wsgi.input_terminated": True})
    assert undeclared.status_code == 413, "the limit holds while reading a body of unknown length"
    assert uploads_left(ingest) == [] and client.get("/api/jobs").get_json()["jobs"] == []


@pytest.mark.parametrize("body, status", [
    ({"path": "relative/clip.mp4"}, 400),
    ({"path": 42}, 400),
    ({"path": "/no/such/file.mp4"}, 422),
])
def test_registering_a_bad_path_is_refused(client: FlaskClient, ingest: Services,
                                           body: dict[str, Any], status: int) -> None:
    response = client.post("/api/jobs", json=body)
    assert response.status_code == status and response.get_json()["message"]


def test_registering_a_local_file_starts_a_job(client: FlaskClient, ingest: Services,
                                               make_clip: ClipMaker, tmp_path: Path) -> None:
    clip = make_clip("local.mp4", seconds=1)
    response = client.post("/api/jobs", json={"path": str(clip), "name": "Local clip"})
    assert response.status_code == 202
    job = response.get_json()
    cancelled = client.post(f"/api/jobs/{job['job_id']}/cancel")
    assert cancelled.status_code in (200, 409)  # 409 only when it already finished
    assert client.get("/api/jobs/nope").status_code == 404


def test_uploads_may_be_larger_than_api_bodies(client: FlaskClient, ingest: Services) -> None:
    response = client.post("/api/uploads?name=big.bin", data=b"\0" * (3 * 1024 * 1024),
                           content_type="application/octet-stream")
    assert response.status_code == 202
    assert (ingest.data.uploads / response.get_json()["upload"]).stat().st_size == 3 * 1024 * 1024


def test_sample_endpoint_makes_a_clip_and_queues_its_ingest(client: FlaskClient, ingest: Services) -> None:
    refused = client.post("/api/samples", json={"seconds": 1000})
    assert refused.status_code == 400 and "seconds" in refused.get_json()["message"]
    made = client.post("/api/samples", json={"seconds": 2})
    assert made.status_code == 202, made.get_json()
    job = made.get_json()
    assert job["original_name"] == "miniflix-sample.mp4" and job["state"] in ("queued", "running")
    assert (ingest.data.uploads / "sample-2s.mp4").stat().st_size > 0


def test_a_refused_upload_names_the_users_file_not_the_stored_one(client: FlaskClient, ingest: Services,
                                                                   tmp_path: Path) -> None:
    picture = tmp_path / "pic.png"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1",
                    str(picture)], check=True, timeout=60)
    response = client.post("/api/uploads?name=Holiday poster.png", data=picture.read_bytes(),
                           content_type="application/octet-stream")
    assert response.status_code == 202
    stored = response.get_json()["upload"]
    failed = wait_job(client, response.get_json()["job_id"], ("failed", "published"))
    assert failed["state"] == "failed"
    assert "Holiday poster.png" in failed["error"] and "still image" in failed["error"]
    assert stored not in failed["error"]
