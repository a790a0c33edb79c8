"""The worker side of a distributed chunk encode: what runs in a Dask worker process.

A worker has no access to the coordinator's files. It opens the origin store from its address
(the `origin` setting's URL, `BlobStore.address()`). ffmpeg reads the job's source straight from
the store where the store gives a URL (S3: a presigned GET it seeks in with Range, so no worker
copies a whole source); a folder store's source is hard-linked into the worker's scratch dir once.
It runs the same `run_chunk` as the local executor there and puts the chunk files back into the
store under the job's work prefix. Progress and starts go to the coordinator as worker events on
the run's topic; a cluster-wide stop event kills the ffmpeg of a cancelled job.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.errors import MiniflixError
from server.jobs.chunk_work import ChunkWork, run_chunk
from server.media.progress import ProgressUpdate
from server.storage.blobstore import BlobStore

STOP_POLL_S = 0.2
SOURCE_URL_TTL_S = 12 * 3600   # a presigned source URL outlives the longest chunk encode
_source_lock = threading.Lock()  # one copy of a source per worker process, however many threads


class ChunkFailed(Exception):
    """A chunk's encode failed on a worker; carries only the user's message, so it survives the
    trip back to the coordinator (our errors' constructors take more than a message)."""


def open_store(address: str) -> BlobStore:
    """The coordinator's origin store, reopened in this process from its `address()` (the
    `origin` setting's URL) through the same backend registry the engine builds it with."""
    from server.backends import ORIGINS
    from server.registry import build

    url = ORIGINS.parse(address)
    return build(url, ORIGINS.factory(url), ORIGINS.is_bare(url), None)


@dataclass(frozen=True)
class RunChannel:
    """Names of one executor run's cluster-wide pub-sub topic and stop event."""

    run_id: str

    @classmethod
    def new(cls) -> RunChannel:
        return cls(f"miniflix-{uuid.uuid4().hex[:12]}")

    @property
    def topic(self) -> str:
        return self.run_id

    @property
    def stop_event(self) -> str:
        return f"{self.run_id}-stop"


def encode_on_worker(work: ChunkWork, store: str, channel: RunChannel,
                     threads: int = 1) -> dict[str, Any]:
    """Encode `work` (source and output are origin keys) in this worker's scratch dir and put its
    chunk files into the store (`store` is its `address()`); returns the worker's name, the wall
    time and the output keys.
    `threads` > 1 for the last chunks of a job, as the local executor gives them (spare cores)."""
    from distributed import get_worker

    worker = get_worker()
    name = str(worker.name)
    worker.log_event(channel.topic, {"kind": "started", "task": work.name, "worker": name})
    blobs = open_store(store)
    scratch = Path(worker.local_directory) / "miniflix" / work.job
    out_dir = scratch / work.name
    marks = [time.monotonic()]   # began, source here, encoded, put: the costs the bench reports
    url: str | None = None
    try:
        url = blobs.read_url(work.source, SOURCE_URL_TTL_S)
        local = work.at(url or str(fetch_source(blobs, work.source, scratch)), str(out_dir))
        marks.append(time.monotonic())
        progress = _progress_sender(worker, channel.topic, work.name)
        _run_stoppable(channel, lambda stop: run_chunk(local, progress, stop, threads))
        marks.append(time.monotonic())
        keys = [f"{work.output}/{rel}" for rel in work.outputs()]
        for rel, key in zip(work.outputs(), keys, strict=True):
            blobs.put_file(key, Path(local.output) / rel)
        marks.append(time.monotonic())
    except MiniflixError as exc:
        raise ChunkFailed(f"{unsigned(exc.message, url, work.source)} (on {name})") from None
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    source_s, encode_s, put_s = (b - a for a, b in itertools.pairwise(marks))
    return {"worker": name, "wall_s": marks[-1] - marks[0], "keys": keys, "source_s": source_s,
            "encode_s": encode_s, "put_s": put_s}


def unsigned(message: str, url: str | None, key: str) -> str:
    """`message` (ffmpeg's words) with the presigned URL replaced by its object's key: a signature
    is a credential, and job records, events and logs keep errors."""
    if not url:
        return message
    named = f"origin object {key!r}"
    return message.replace(url, named).replace(url.split("?", 1)[0], named)


def forget_job(job: str, dask_worker: Any = None) -> None:
    """Remove a job's files from this worker's scratch dir (run on every worker at the job's end)."""
    if dask_worker is not None:
        shutil.rmtree(Path(dask_worker.local_directory) / "miniflix" / job, ignore_errors=True)


def fetch_source(blobs: BlobStore, key: str, scratch: Path) -> Path:
    """The source object `key` as a file in `scratch`, got once per worker and job (a hard
    link when the origin is a folder on the same disk: a source is often gigabytes)."""
    size = blobs.stat(key).size
    target = scratch / f"source-{hashlib.sha1(f'{key}|{size}'.encode()).hexdigest()[:16]}"
    with _source_lock:
        if target.is_file() and target.stat().st_size == size:
            return target
        scratch.mkdir(parents=True, exist_ok=True)
        blobs.get_file(key, target)
    return target


def _progress_sender(worker: Any, topic: str, task: str) -> Any:
    def send(update: ProgressUpdate) -> None:
        worker.log_event(topic, {"kind": "progress", "task": task, "out_time_s": update.out_time_s,
                                 "frame": update.frame, "speed": update.speed, "done": update.done})
    return send


def _run_stoppable(channel: RunChannel, run: Callable[[threading.Event], None]) -> None:
    """`run(stop)` on a helper thread while this (the task's) thread polls the run's cluster-wide
    stop event and sets `stop` when it is set: a Dask event only works on a task's own thread."""
    from distributed import Event

    remote, stop = Event(channel.stop_event), threading.Event()
    errors: list[BaseException] = []

    def body() -> None:
        try:
            run(stop)
        except BaseException as exc:  # raised again on the task's thread, below
            errors.append(exc)

    encoder = threading.Thread(target=body, name="encode", daemon=True)
    encoder.start()
    while encoder.is_alive():
        if remote.wait(STOP_POLL_S):
            stop.set()
            break
    encoder.join()
    if errors:
        raise errors[0]
