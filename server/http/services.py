"""The composition of one server: every service for one data dir, started and stopped in order.

Services whose package is not part of this build are left `None`; the app then leaves their
endpoints out instead of answering with stubs.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from server.catalog import Catalog
from server.paths import DataDir
from server.storage.blobstore import LocalBlobStore

if TYPE_CHECKING:
    from server.analytics.service import AnalyticsService
    from server.cdn.cluster import CDN
    from server.cdn.steering import Steering
    from server.events.log import EventLog
    from server.jobs.service import IngestService
    from server.search.service import SearchService

log = logging.getLogger(__name__)

# Start order; stop runs in reverse. Each is an attribute that may expose start()/stop().
LIFECYCLE = ("events", "analytics", "search", "cdn", "steering", "ingest")


@dataclass
class Services:
    """Everything the HTTP layer serves, for one data dir."""

    data: DataDir
    catalog: Catalog
    store: LocalBlobStore
    events: EventLog | None = None            # the log; also the publisher of every event
    cdn: CDN | None = None                    # the edge nodes (and their URL signer)
    steering: Steering | None = None          # ranks edges for a client
    analytics: AnalyticsService | None = None  # named queries over DuckDB
    search: SearchService | None = None
    ingest: IngestService | None = None       # the ingest job queue
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


def build_services(data: DataDir) -> Services:
    """Build every service present in this build for `data`, wired to one event log."""
    services = Services(data=data, catalog=Catalog(data.catalog_db), store=LocalBlobStore(data.origin))
    for name, module, builder in BUILDERS:
        if _present(module):
            setattr(services, name, builder(services))
    return services


def _events(s: Services) -> Any:
    return import_module("server.events.log").open_event_log(s.data)


def _analytics(s: Services) -> Any:
    return import_module("server.analytics.service").AnalyticsService(s.data, s.events)


def _search(s: Services) -> Any:
    views = s.analytics.views if s.analytics is not None else None
    return import_module("server.search.service").SearchService(s.data, s.events, s.catalog, views=views)


def _cdn(s: Services) -> Any:
    from server.cdn.cluster import CDN
    from server.cdn.origin import StoreOrigin
    from server.cdn.topology import Topology

    return CDN(Topology.configured(), StoreOrigin(s.store), s.data, s.events)


def _steering(s: Services) -> Any:
    from server.cdn.steering import Steering

    return Steering(s.cdn, s.events) if s.cdn is not None else None


def _ingest(s: Services) -> Any:
    return import_module("server.jobs.service").IngestService(s.data, s.events)


def _present(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


# (attribute, module that must exist in this build, builder), in build order.
BUILDERS = (("events", "server.events.log", _events),
            ("analytics", "server.analytics.service", _analytics),
            ("search", "server.search.service", _search),
            ("cdn", "server.cdn.cluster", _cdn),
            ("steering", "server.cdn.steering", _steering),
            ("ingest", "server.jobs.service", _ingest))
