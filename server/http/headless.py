"""`make run` with no display: the server plus a demo ingest, reported on the terminal.

It shows the whole path working without a window: a sample clip is made with ffmpeg, ingested
through the same job service the studio uses, and the URL to play it through steering is printed.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from server.errors import MiniflixError
from server.http.signals import stop_on_signals
from server.media.sample import make_sample_clip
from server.paths import DataDir

SAMPLE_NAME = "miniflix-sample.mp4"


def run_headless(data: DataDir, host: str = "127.0.0.1", port: int = 0, *, demo: bool = True,
                 until: threading.Event | None = None) -> int:
    """Serve until Ctrl-C/SIGTERM (or `until` is set); with `demo`, ingest the sample clip first."""
    from server.http.embedded import start_embedded

    done = until or threading.Event()
    if until is None:
        stop_on_signals(done)
    server = start_embedded(data, host, port)
    try:
        print(f"MiniFlix server listening on {server.url} (data: {data.root})", flush=True)
        if demo and server.services.ingest is not None:
            _demo_ingest(server.services, server.url, done)
        print("Serving; press Ctrl-C to stop.", flush=True)
        done.wait()
    finally:
        server.stop()
    print("Stopped.", flush=True)
    return 0


def _demo_ingest(services: Any, url: str, done: threading.Event) -> None:
    existing = [t for t in services.catalog.list() if t.original_name == SAMPLE_NAME]
    if existing:
        _announce(url, existing[0].video_id)
        return
    print("Making a sample clip with ffmpeg and ingesting it…", flush=True)
    try:
        clip = make_sample_clip(services.data.uploads / SAMPLE_NAME)
        job = services.ingest.submit(clip, SAMPLE_NAME)
    except MiniflixError as exc:
        print(f"demo ingest failed: {exc}", flush=True)
        return
    _follow(services, job.record.job_id, done)
    status = services.ingest.get(job.record.job_id).to_dict()
    if status["state"] == "published":
        _seed_demo_week(services)
        _announce(url, status["video_id"])
    elif not done.is_set():
        print(f"demo ingest {status['state']}: {status['error']}", flush=True)


def _seed_demo_week(services: Any) -> None:
    """A week of generated viewing, so the analytics have something to show (server/demo_week.py)."""
    from server.demo_week import DemoWeek
    from server.http.demo import seed_now

    if services.cdn is None or services.events is None:
        return
    try:
        seeded = seed_now(services, DemoWeek())
    except MiniflixError as exc:
        print(f"demo week not seeded: {exc}", flush=True)
        return
    print(f"Seeded a demo week of viewing ({seeded.sessions} sessions, batch {seeded.batch}); "
          f"remove it with: DELETE /api/demo/{seeded.batch} or `miniflix demo remove {seeded.batch}`",
          flush=True)


def _follow(services: Any, job_id: str, done: threading.Event) -> None:
    """Print a line per stage and per 10% step, so a log stays readable."""
    last: tuple[str, int] = ("", -1)
    while not done.is_set():
        status = services.ingest.get(job_id).to_dict()
        step = (status["stage"], int(status["percent"] // 10))
        if step != last:
            chunks = f"  chunks {status['current']}/{status['total']}" if status["total"] else ""
            print(f"  {status['stage']:<10} {status['percent']:5.1f}%{chunks}", flush=True)
            last = step
        if status["state"] in ("published", "failed", "cancelled"):
            return
        time.sleep(0.5)


def _announce(url: str, video_id: str) -> None:
    print(f"Published {video_id}. Play it through steering → edge:\n"
          f"  vlc {url}/play/{video_id}/master.m3u8\n"
          f"  ffplay {url}/play/{video_id}/master.m3u8", flush=True)
