"""The worker side of a distributed chunk encode: what runs in a Dask worker process.

A worker has no access to the coordinator's files. It opens the origin store from a plain
`StoreRef`, copies the job's source out of it once into its own scratch dir, runs the same
`run_chunk` as the local executor there, and puts the chunk files back into the store under the
job's work prefix. Progress and starts go to the coordinator as worker events on the run's topic;
a cluster-wide stop event kills the ffmpeg of a cancelled job.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.errors import JobError, MiniflixError
from server.jobs.chunk_work import ChunkWork, run_chunk
from server.media.progress import ProgressUpdate
from server.storage.blobstore import COPY_CHUNK, BlobStore

STOP_POLL_S = 0.2
_source_lock = threading.Lock()  # one copy of a source per worker process, however many threads


class ChunkFailed(Exception):
    """A chunk's encode failed on a worker; carries only the user's message, so it survives the
    trip back to the coordinator (our errors' constructors take more than a message)."""


@dataclass(frozen=True)
class StoreRef:
    """How a worker opens the coordinator's origin store: a folder on a disk they share (`file`)
    or an S3 bucket (credentials from the worker's environment, as boto3 reads them)."""

    kind: str
    where: str            # the folder, or the bucket
    endpoint: str = ""
    region: str = ""

    def open(self) -> BlobStore:
        if self.kind == "file":
            from server.storage.blobstore import LocalBlobStore

            return LocalBlobStore(self.where)
        from server.storage.s3 import S3BlobStore
        from server.storage.s3_client import S3Client

        return S3BlobStore(S3Client(self.where, self.endpoint or None, self.region or "us-east-1"))


def store_ref(store: Any) -> StoreRef:
    """The `StoreRef` of a coordinator's store (a `LocalBlobStore` or an `S3BlobStore`)."""
    if hasattr(store, "root"):
        return StoreRef("file", str(store.root))
    if hasattr(store, "s3"):
        s3 = store.s3
        return StoreRef("s3", s3.bucket, s3.endpoint or "", s3.client.meta.region_name or "")
    raise JobError(f"the Dask executor cannot hand {type(store).__name__} to its workers.",
                   hint="use a file or s3 origin (MINIFLIX_ORIGIN)")


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


def encode_on_worker(work: ChunkWork, store: StoreRef, channel: RunChannel,
                     threads: int = 1) -> dict[str, Any]:
    """Encode `work` (source and output are origin keys) in this worker's scratch dir and put its
    chunk files into the store; returns the worker's name, the wall time and the output keys.
    `threads` > 1 for the last chunks of a job, as the local executor gives them (spare cores)."""
    from distributed import get_worker

    worker = get_worker()
    name = str(worker.name)
    worker.log_event(channel.topic, {"kind": "started", "task": work.name, "worker": name})
    blobs = store.open()
    scratch = Path(worker.local_directory) / "miniflix" / work.job
    out_dir = scratch / work.name
    marks = [time.monotonic()]   # began, source here, encoded, put: the costs the bench reports
    try:
        local = work.at(str(fetch_source(blobs, work.source, scratch)), str(out_dir))
        marks.append(time.monotonic())
        progress = _progress_sender(worker, channel.topic, work.name)
        _run_stoppable(channel, lambda stop: run_chunk(local, progress, stop, threads))
        marks.append(time.monotonic())
        keys = [f"{work.output}/{rel}" for rel in work.outputs()]
        for rel, key in zip(work.outputs(), keys, strict=True):
            with (Path(local.output) / rel).open("rb") as data:
                blobs.put(key, data)
        marks.append(time.monotonic())
    except MiniflixError as exc:
        raise ChunkFailed(f"{exc.message} (on {name})") from None
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    source_s, encode_s, put_s = (b - a for a, b in itertools.pairwise(marks))
    return {"worker": name, "wall_s": marks[-1] - marks[0], "keys": keys, "source_s": source_s,
            "encode_s": encode_s, "put_s": put_s}


def forget_job(job: str, dask_worker: Any = None) -> None:
    """Remove a job's files from this worker's scratch dir (run on every worker at the job's end)."""
    if dask_worker is not None:
        shutil.rmtree(Path(dask_worker.local_directory) / "miniflix" / job, ignore_errors=True)


def fetch_source(blobs: BlobStore, key: str, scratch: Path) -> Path:
    """The source object `key` as a file in `scratch`, copied once per worker and job (a hard
    link when the origin is a folder on the same disk: a source is often gigabytes)."""
    size = blobs.stat(key).size
    target = scratch / f"source-{hashlib.sha1(f'{key}|{size}'.encode()).hexdigest()[:16]}"
    with _source_lock:
        if target.is_file() and target.stat().st_size == size:
            return target
        scratch.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.part")
        if not link_from_folder(blobs, key, part):
            with blobs.open(key) as body, part.open("wb") as out:
                shutil.copyfileobj(body, out, COPY_CHUNK)
        part.replace(target)
    return target


def link_from_folder(blobs: Any, key: str, target: Path) -> bool:
    """Hard-link a folder store's object to `target`; False for any other store, or across disks."""
    if not hasattr(blobs, "path"):
        return False
    try:
        os.link(blobs.path(key), target)
    except OSError:
        return False
    return True


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
