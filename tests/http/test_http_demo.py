"""The demo week over HTTP: seeded after the sample clip publishes, listed, removed; bad input is a
400 and an unknown batch a 404, in the API's JSON error shape."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from server.catalog import Title
from server.http.services import Services
from tests.http.test_http_jobs_uploads import wait_job


def eventually(client: FlaskClient, check: Callable[[list[dict[str, Any]]], bool], what: str) -> list[Any]:
    """Analytics follows the log in its own thread: poll GET /api/demo until `check` holds."""
    deadline = time.monotonic() + 30
    while True:
        batches = client.get("/api/demo").get_json()["batches"]
        if check(batches):
            return batches
        assert time.monotonic() < deadline, f"{what}: {batches}"
        time.sleep(0.2)


def test_a_demo_week_is_seeded_listed_and_removed(client: FlaskClient, cdn: Services, insights: Services,
                                                   title: Title) -> None:
    made = client.post("/api/demo/week", json={"days": 2, "views_per_day": 25, "seed": 4})
    assert made.status_code == 201, made.get_json()
    seeded = made.get_json()
    assert seeded["sessions"] == 50 and seeded["events"]["playback"] > 50
    [batch] = eventually(client, lambda b: len(b) == 1 and b[0]["views"] == 50,
                         "the whole batch never reached analytics")
    assert batch["batch"] == seeded["batch"]
    views = client.get("/api/analytics/title_engagement").get_json()["rows"]
    assert views[0]["views"] == 50
    assert client.delete(f"/api/demo/{seeded['batch']}").status_code == 202
    eventually(client, lambda b: b == [], "the batch was not removed")
    assert client.get("/api/analytics/title_engagement").get_json()["rows"] == []


def test_bad_demo_requests_say_what_is_wrong(client: FlaskClient, cdn: Services, insights: Services,
                                             title: Title) -> None:
    for body, words in (({"days": 0}, "1 to 31 days"), ({"views_per_day": "many"}, "whole number"),
                        ({"days": 31, "views_per_day": 2000}, "at most 20,000 sessions")):
        refused = client.post("/api/demo/week", json=body)
        assert refused.status_code == 400 and words in refused.get_json()["message"], refused.get_json()
    missing = client.delete("/api/demo/demo-0000")
    assert missing.status_code == 404 and "demo-0000" in missing.get_json()["message"]


def test_the_sample_clip_brings_a_demo_week(client: FlaskClient, cdn: Services, ingest: Services,
                                            insights: Services) -> None:
    job = client.post("/api/samples", json={"seconds": 2}).get_json()
    assert "demo-week" in waiting_threads(), "nothing waits to seed a demo week after the sample"
    assert wait_job(client, job["job_id"], ("published", "failed"))["state"] == "published"
    eventually(client, lambda b: len(b) == 1 and b[0]["views"] == 7 * 150,
               "no whole demo week after the sample published")
    quiet = client.post("/api/samples", json={"seconds": 2, "demo_week": False}).get_json()
    assert "demo-week" not in waiting_threads(), "asked for no demo week, but one is on its way"
    assert wait_job(client, quiet["job_id"], ("published", "failed"))["state"] == "published"


def waiting_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.is_alive()}
