"""One server's services, taken from the engine (`server/engine.py`), started and stopped in order.

Services whose package is not part of this build are left `None`; the app then leaves their
endpoints out instead of answering with stubs.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from server import config
from server.catalog import Catalog
from server.paths import DataDir
from server.storage.blobstore import TITLE_PREFIX, BlobStore, LocalBlobStore

if TYPE_CHECKING:
    from server.analytics.lake_archiver import Archiver
    from server.analytics.service import AnalyticsService
    from server.cdn.cluster import CDN
    from server.cdn.edit_purge import EditPurge
    from server.cdn.fill import ProactiveFill
    from server.cdn.steering import Steering
    from server.engine import Engine
    from server.events.log import EventLog
    from server.jobs.service import IngestService
    from server.search.service import SearchService

log = logging.getLogger(__name__)

# Start order; stop runs in reverse. Each is an attribute that may expose start()/stop().
LIFECYCLE = ("events", "analytics", "lake", "search", "cdn", "edit_purge", "steering", "fill", "ingest")


@dataclass
class Services:
    """Everything the HTTP layer serves, for one data dir."""

    data: DataDir
    catalog: Catalog
    store: BlobStore
    events: EventLog | None = None            # the log; also the publisher of every event
    cdn: CDN | None = None                    # the edge nodes (and their URL signer)
    steering: Steering | None = None          # ranks edges for a client
    analytics: AnalyticsService | None = None  # named queries over DuckDB
    lake: Archiver | None = None              # the Parquet lake's archiver (setting lake_archive)
    search: SearchService | None = None
    fill: FillService | None = None           # proactive push of popular titles to edges
    edit_purge: EditPurge | None = None       # purges the edges when a CLI changes a title's tracks
    ingest: IngestService | None = None       # the ingest job queue
    backends: dict[str, str] = field(default_factory=dict)  # each part's setting, safe to show
    stopping: threading.Event = field(default_factory=threading.Event)
    started: list[str] = field(default_factory=list)

    @property
    def publisher(self) -> EventLog | None:
        return self.events

    def publish(self, topic: str, key: str, value: dict[str, Any]) -> None:
        """Publish an event if this server has an event log; `at` defaults to now."""
        if self.events is not None:
            self.events.publish(topic, key, {"at": time.time(), **value})

    def start(self) -> Services:
        """Start in dependency order; if one fails, the ones already running are stopped again."""
        try:
            for name in LIFECYCLE:
                self._start_one(name)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_one(self, name: str) -> None:
        service = getattr(self, name)
        if service is None:
            return
        if hasattr(service, "start"):
            service.start()
        self.started.append(name)

    def stop(self) -> None:
        """Stop what was started, newest first; one failure does not keep the rest running."""
        self.stopping.set()
        while self.started:
            name = self.started.pop()
            try:
                service = getattr(self, name)
                (service.stop if hasattr(service, "stop") else service.close)()
            except Exception:
                log.exception("stopping %s failed", name)

    def describe(self) -> dict[str, bool]:
        """Which services run in this server (for /api/health)."""
        names = ("catalog", "store", *LIFECYCLE)
        return {name: getattr(self, name) is not None for name in names}


def build_services(engine: Engine) -> Services:
    """Every service of `engine`'s data dir, wired to its one event log (started later, in
    LIFECYCLE order; stopping the services closes the log)."""
    from server.analytics.lake_archiver import archiver_if_enabled
    from server.cdn.edit_purge import EditPurge
    from server.cdn.fill import ProactiveFill, feed_from_views
    from server.cdn.steering import Steering
    from server.media.mpd_retime import retime_library

    data = engine.data
    s = Services(data=data, catalog=engine.catalog, store=engine.origin, events=engine.events,
                 backends=engine.backends.describe())
    s.analytics = engine.analytics()
    s.lake = archiver_if_enabled(engine.events, data)
    s.search = engine.search(views=s.analytics.views)
    s.cdn = engine.cdn()
    # MPDs packaged before the one timing model are retimed once, and edges drop their old copies
    # (on the file origin only: no title on S3 predates that model).
    titles = [t.video_id for t in s.catalog.list()] if isinstance(s.store, LocalBlobStore) else []
    for video_id in retime_library(data.origin / TITLE_PREFIX, titles):
        s.cdn.purge_title(video_id)
    s.edit_purge = EditPurge(s.cdn, engine.events)
    s.steering = Steering(s.cdn, s.events)
    # Popular titles (by recent views) are pushed to their home edges before viewers ask.
    s.fill = FillService(ProactiveFill(s.cdn, feed_from_views(s.analytics.views)),
                         config.get("cdn_fill_interval_s"))
    s.ingest = engine.ingest_service()
    return s


@dataclass
class FillService:
    """Runs the proactive fill every `interval_s` while the server runs."""

    fill: ProactiveFill
    interval_s: float

    def start(self) -> None:
        self.fill.start(self.interval_s)

    def stop(self) -> None:
        self.fill.stop()
