"""A demo week of viewing (server/demo_week.py): list the batches analytics holds, seed one, remove one.

`GET /api/demo` lists the demo batches in analytics (views, time span); `POST /api/demo/week` with
`{"days", "views_per_day", "seed"}` (all optional) generates a week over the published titles;
`DELETE /api/demo/<batch>` takes a batch out again (202: analytics drops it when the removal loads).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Blueprint, Response, jsonify

from server.demo_week import DemoWeek, published_ladders, remove, seed
from server.errors import InvalidRequest, MiniflixError, NotFound
from server.http.context import json_body, need, services

bp = Blueprint("demo", __name__, url_prefix="/api/demo")
log = logging.getLogger(__name__)


@bp.get("")
def list_batches() -> Response:
    return jsonify({"batches": need("analytics").demo_batches()})


@bp.post("/week")
def seed_week() -> Response:
    body = json_body()
    week = DemoWeek(days=_whole(body, "days", 7), views_per_day=_whole(body, "views_per_day", 150),
                    seed=_whole(body, "seed", 1))
    seeded = seed_now(services(), week)
    return jsonify(seeded.to_dict()), 201  # type: ignore[return-value]


@bp.delete("/<batch>")
def remove_batch(batch: str) -> Response:
    if batch not in {b["batch"] for b in need("analytics").demo_batches()}:
        raise NotFound(f"No demo batch {batch[:40]!r} in analytics.", hint="GET /api/demo lists them")
    remove(need("events"), batch)
    return jsonify({"removing": batch}), 202  # type: ignore[return-value]


def seed_now(svc: Any, week: DemoWeek) -> Any:
    """Seed a week over this server's published titles and edges (also used after the sample clip)."""
    return seed(svc.events, published_ladders(svc.catalog, svc.store), svc.cdn.topology, week)


def seed_when_published(svc: Any, job_id: str) -> threading.Thread | None:
    """After the sample clip's job publishes, seed a demo week over the library so every analytics
    chart has something to show on first start (off the request; ends with the server)."""
    if svc.cdn is None or svc.events is None or svc.ingest is None:
        return None

    def wait_then_seed() -> None:
        while not svc.stopping.is_set():
            state = svc.ingest.get(job_id).to_dict()["state"]
            if state in ("published", "failed", "cancelled"):
                break
            svc.stopping.wait(0.5)
        else:
            return
        if state == "published":
            try:
                seeded = seed_now(svc, DemoWeek())
            except MiniflixError as exc:
                log.warning("demo week not seeded: %s", exc)
                return
            log.info("demo week %s seeded: %d sessions", seeded.batch, seeded.sessions)

    thread = threading.Thread(target=wait_then_seed, name="demo-week", daemon=True)
    thread.start()
    return thread


def _whole(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(f"`{name}` must be a whole number (got {value!r:.40}).")
    return value
