"""`miniflix ingest PATH...` and `miniflix videos`: the command-line contract other tools rely on.

ingest: each file in turn; one failing never stops the others. Exit 0 when all were published,
1 when any failed, 2 on a usage error, 130 when interrupted by Ctrl-C or SIGTERM (the job stops its
ffmpeg processes and stays resumable).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from server.cli import add_data_dir
from server.cli.progressbar import ProgressBar
from server.config import parse_ladder
from server.engine import Engine
from server.errors import Cancelled, InvalidRequest, MiniflixError, ToolMissing
from server.jobs.pipeline import Ingest, IngestOptions
from server.jobs.store import PUBLISHED, JobRecord
from server.media.codecs import parse_codecs
from server.media.ffmpeg import find_tools
from server.media.hw_encoders import require_encoders


def register(subs: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = subs.add_parser("ingest", help="probe, encode, package and publish video files")
    p.add_argument("paths", nargs="+", metavar="PATH", help="video or audio files to ingest")
    add_data_dir(p)
    p.add_argument("--workers", type=_positive_int, help="parallel chunk encodes (default: cores)")
    p.add_argument("--segment-seconds", type=_positive_float, help="CMAF segment duration (default 4)")
    p.add_argument("--json", action="store_true", help="one JSON object per input on stdout")
    p.add_argument("--ladder", type=_ladder, help="`fixed`, `per-title` or `auto` (per-title from "
                   "per_title_auto_seconds on; default: MINIFLIX_LADDER, fixed)")
    p.add_argument("--codecs", type=_codecs, help="video codecs of the ladder, e.g. `h264,av1` or "
                   "`h264,av1,hevc` (default: MINIFLIX_CODECS, h264)")
    p.set_defaults(func=run_ingest)
    v = subs.add_parser("videos", help="list the catalog")
    add_data_dir(v)
    v.add_argument("--all", action="store_true", help="include failed and deleted titles")
    v.add_argument("--json", action="store_true", help="JSON output")
    v.set_defaults(func=run_videos)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _ladder(text: str) -> str:
    try:
        return parse_ladder(text)
    except InvalidRequest as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _codecs(text: str) -> tuple[str, ...]:
    try:
        return parse_codecs(text)
    except InvalidRequest as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0.5 <= value <= 60:
        raise argparse.ArgumentTypeError("must be between 0.5 and 60 seconds")
    return value


def run_ingest(args: argparse.Namespace) -> int:
    try:
        find_tools()  # once, before any file: a missing ffmpeg is not a fault of the inputs
    except ToolMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        options = IngestOptions.from_settings(workers=args.workers, segment_seconds=args.segment_seconds,
                                              ladder=args.ladder, codecs=args.codecs)
    except InvalidRequest as exc:  # a bad MINIFLIX_* value: a usage error, before any file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        require_encoders(find_tools(), options.codecs)  # a codec this ffmpeg cannot encode: before any file
    except ToolMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    failures = 0
    with Engine.open(args.data_dir) as engine, _terminate_like_ctrl_c():
        ingest = engine.ingest(options)
        for raw in args.paths:
            result = _ingest_one(ingest, Path(raw))
            failures += result["status"] != "published"
            _report(result, args.json)
    return 1 if failures else 0


@contextlib.contextmanager
def _terminate_like_ctrl_c() -> Iterator[None]:
    """SIGTERM (`kill`, a logout, a service manager) stops the ingest the way Ctrl-C does.

    Python's default for SIGTERM ends the process at once, and the ffmpeg children, which run in
    their own process group, would go on encoding for nobody until their chunk ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ingest_one(ingest: Ingest, path: Path) -> dict[str, Any]:
    try:
        job = ingest.create_job(path)
    except MiniflixError as exc:
        return _result(str(path), None, error=str(exc))
    bar = ProgressBar(job.original_name)
    job = _run_interruptibly(ingest, job, bar)
    bar.close(f"{job.original_name}: {job.state}" + (f" as {job.video_id}" if job.state == PUBLISHED
                                                     else f": {job.error}"))
    return _result(str(path), job)


def _run_interruptibly(ingest: Ingest, job: JobRecord, bar: ProgressBar) -> JobRecord:
    """Run in a worker thread so Ctrl-C in the main thread can stop ffmpeg cleanly."""
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["job"] = ingest.run(job, bar.update, stop)
        except Cancelled as exc:
            outcome["cancelled"] = exc
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="ingest")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        worker.join()
        raise
    if "error" in outcome:
        raise outcome["error"]
    if "cancelled" in outcome:
        raise KeyboardInterrupt
    return outcome["job"]


def _result(path: str, job: JobRecord | None, error: str = "") -> dict[str, Any]:
    published = job is not None and job.state == PUBLISHED
    res = job.result if job is not None and published else {}
    return {"input": path, "video_id": job.video_id if job else None,
            "status": "published" if published else "failed",
            "error": None if published else (error or (job.error if job else "")),
            "duration": res.get("duration"), "master": res.get("master"), "mpd": res.get("mpd"),
            "renditions": res.get("renditions", []), "audio": res.get("audio"),
            "integrity": res.get("integrity"), "notes": res.get("notes", job.notes if job else []),
            "timing": res.get("timing"), "stages": res.get("stages")}


def _report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result), flush=True)
    elif result["status"] == "published":
        rungs = ", ".join(r["name"] for r in result["renditions"]) or "audio only"
        print(f"published {result['video_id']} ({result['duration']:.1f} s; {rungs}): {result['master']}")
    else:
        print(f"error: {result['error']}", file=sys.stderr)


def run_videos(args: argparse.Namespace) -> int:
    titles = Engine.open(args.data_dir).catalog.list(None if args.all else PUBLISHED)
    if args.json:
        print(json.dumps([t.to_dict() for t in titles], indent=2))
        return 0
    if not titles:
        print("The catalog is empty: `miniflix ingest FILE` adds a title.")
    for t in titles:
        rungs = t.top_rendition or "-"
        extra = f"  {t.error}" if t.error else ""
        print(f"{t.video_id}  {t.status:9}  {t.duration:7.1f}s  {rungs:6}  {t.title}{extra}")
    return 0
