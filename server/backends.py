"""The backends of each replaceable part, one registry line each (see docs/BACKENDS.md).

Every factory is `factory(url: str, data: DataDir)`, `url` being the setting's value; the module
named here is imported only when a setting selects it. The embedded defaults' factories are the
small functions below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from server import config
from server.registry import BadSetting, Registry

if TYPE_CHECKING:
    from server.events.log import EventLog
    from server.jobs.executor import Executor
    from server.paths import DataDir
    from server.storage.blobstore import BlobStore, LocalBlobStore

CLUSTER = "`pip install miniflix-studio[cluster]`"
# (workers, retries, origin=BlobStore) → an executor; the origin carries sources and chunks to workers
ExecutorFactory = Callable[..., "Executor"]

ORIGINS: Registry[BlobStore] = Registry("MINIFLIX_ORIGIN")
ORIGINS.register("file", "server.backends:file_origin", bare=True)
ORIGINS.register("s3", "server.storage.s3:open_s3_origin", CLUSTER)
ORIGINS.register("folder", "server.backends:folder_origin")

EVENT_LOGS: Registry[EventLog] = Registry("MINIFLIX_EVENT_LOG")
EVENT_LOGS.register("sqlite", "server.backends:sqlite_event_log", bare=True)
EVENT_LOGS.register("nats", "server.events.nats_log:open_nats_log", CLUSTER)

EXECUTORS: Registry[ExecutorFactory] = Registry("MINIFLIX_EXECUTOR")
EXECUTORS.register("local", "server.backends:local_executor", bare=True)
EXECUTORS.register("dask", "server.jobs.dask_executor:open_dask_executor", CLUSTER)


def _executor_fallback(raw: str) -> str:
    """`local` or `none`: what a cluster executor does when its scheduler does not answer."""
    value = raw.strip().lower()
    if value not in ("local", "none"):
        raise BadSetting(f"MINIFLIX_EXECUTOR_FALLBACK={raw!r} is not a fallback.",
                             hint="use `none` (fail before any work) or `local` (encode here, with a note)")
    return value


config.register("executor_fallback", "none", "What an ingest does when the `executor` cluster does not "
                "answer: `none` (fail before any work, naming the setting) or `local` (encode on this "
                "machine instead; the job carries a note saying so).", _executor_fallback)


def file_origin(url: str, data: DataDir) -> LocalBlobStore:
    """The origin folder of the data dir."""
    from server.storage.blobstore import LocalBlobStore

    return LocalBlobStore(data.origin)


def folder_origin(url: str, data: object = None) -> LocalBlobStore:
    """`folder:///path`: an origin folder of one's choosing, e.g. on a disk Dask workers share
    (what a folder store's `address()` names, so a worker reopens the same store)."""
    from pathlib import Path
    from urllib.parse import unquote, urlsplit

    from server.errors import MiniflixError
    from server.storage.blobstore import LocalBlobStore

    parts = urlsplit(url.strip())
    folder = unquote(parts.netloc + parts.path)
    if parts.scheme != "folder" or not Path(folder).is_absolute() or parts.query:
        raise MiniflixError("want folder:///PATH, the origin's folder (an absolute path)",
                            hint="e.g. folder:///srv/origin")
    return LocalBlobStore(folder)


def sqlite_event_log(url: str, data: DataDir) -> EventLog:
    """The data dir's embedded log (`events.sqlite`)."""
    from server.events.log import open_event_log

    return open_event_log(data)


def local_executor(url: str, data: DataDir) -> ExecutorFactory:
    """A thread pool of ffmpeg processes on this machine."""
    from server.jobs.executor import LocalExecutor

    return LocalExecutor
