"""The engine's composition root: reads the backend settings once and builds each part once.

The HTTP server, every CLI command and `main.py` take their parts from an `Engine`; no other module
builds a catalog, an origin store, an event log or an executor. Which backend builds each
replaceable part is chosen by its setting's URL (`server/backends.py`); a bad setting fails here,
before any work starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

from server import config
from server.backends import EVENT_LOGS, EXECUTORS, ORIGINS, ExecutorFactory
from server.catalog import Catalog
from server.jobs.store import JobStore
from server.paths import DataDir
from server.registry import BackendUrl, Registry, build

if TYPE_CHECKING:
    from server.analytics.service import AnalyticsService
    from server.cdn.cluster import CDN
    from server.demo_week import DemoWeek, Seeded
    from server.events.log import EventLog
    from server.jobs.pipeline import Ingest, IngestOptions
    from server.jobs.service import IngestService
    from server.search.service import SearchService
    from server.storage.blobstore import BlobStore

T = TypeVar("T")


@dataclass(frozen=True)
class Choice(Generic[T]):
    """One part's backend: the setting's parsed URL and the factory it selected."""

    url: BackendUrl
    factory: Callable[..., T]
    bare: bool

    @classmethod
    def of(cls, registry: Registry[T], setting: str) -> Choice[T]:
        url = registry.parse(str(config.get(setting)))
        return cls(url, registry.factory(url), registry.is_bare(url))

    def build(self, data: DataDir) -> T:
        return build(self.url, self.factory, self.bare, data)


@dataclass(frozen=True)
class Backends:
    """The backend of every replaceable part, as the settings choose them."""

    origin: Choice[BlobStore]
    event_log: Choice[EventLog]
    executor: Choice[ExecutorFactory]

    @classmethod
    def from_settings(cls) -> Backends:
        """Parse and import every chosen backend; raises `BadSetting` naming the setting."""
        return cls(Choice.of(ORIGINS, "origin"), Choice.of(EVENT_LOGS, "event_log"),
                   Choice.of(EXECUTORS, "executor"))

    def describe(self) -> dict[str, str]:
        """Each part's setting, safe to show (credentials masked)."""
        return {"origin": self.origin.url.shown, "event_log": self.event_log.url.shown,
                "executor": self.executor.url.shown}


def check_settings() -> None:
    """Fail with `BadSetting` now if any backend setting is unusable (commands call this first)."""
    Backends.from_settings()
    from server.cdn.edge_engines import edge_engine

    edge_engine()


class Engine:
    """Every part of the engine for one data dir, each built on first use and then shared."""

    def __init__(self, data: DataDir, backends: Backends | None = None) -> None:
        self.backends = backends or Backends.from_settings()
        self.data = data

    @classmethod
    def open(cls, data_dir: str | None = None) -> Engine:
        """The engine of `data_dir` (default: the configured or platform data dir)."""
        return cls(DataDir.resolve(data_dir))

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.data.catalog_db)

    @cached_property
    def origin(self) -> BlobStore:
        return self.backends.origin.build(self.data)

    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.data.jobs_db)

    @cached_property
    def executor(self) -> ExecutorFactory:
        return self.backends.executor.build(self.data)

    @cached_property
    def events(self) -> EventLog:
        """The event log, also the publisher of every event; `close()` closes it."""
        return self.backends.event_log.build(self.data)

    def ingest(self, options: IngestOptions | None = None) -> Ingest:
        from server.jobs.pipeline import Ingest

        return Ingest(self.data, catalog=self.catalog, blobs=self.origin, jobs=self.jobs,
                      executor=self.executor, publisher=self.events, options=options)

    def ingest_service(self, options: IngestOptions | None = None) -> IngestService:
        from server.jobs.service import IngestService

        return IngestService(self.ingest(options))

    def analytics(self) -> AnalyticsService:
        from server.analytics.service import AnalyticsService

        return AnalyticsService(self.data, self.events)

    def search(self, views: Callable[[], dict[str, int]] | None = None) -> SearchService:
        from server.search.cues import origin_cues
        from server.search.service import SearchService

        return SearchService(self.data, self.events, self.catalog, views=views, cues=origin_cues(self.origin))

    def cdn(self) -> CDN:
        """The configured edges (Python or nginx, setting `edge_engine`), filled from this engine's
        origin; the CDN signs links the kind its edges check."""
        from server.cdn.cluster import CDN
        from server.cdn.edge_engines import edge_engine
        from server.cdn.origin import StoreOrigin
        from server.cdn.topology import Topology

        return CDN(Topology.configured(), StoreOrigin(self.origin), self.data, self.events,
                   engine=edge_engine())

    def seed_demo_week(self, week: DemoWeek | None = None) -> Seeded:
        """Publish a generated week of viewing of the published titles (server/demo_week.py)."""
        from server.cdn.topology import Topology
        from server.demo_week import DemoWeek, published_ladders, seed

        ladders = published_ladders(self.catalog, self.origin)
        return seed(self.events, ladders, Topology.configured(), week or DemoWeek())

    def remove_demo_week(self, batch: str) -> None:
        """Publish the removal of a demo batch; analytics drops its rows when the event loads."""
        from server.demo_week import remove

        remove(self.events, batch)

    def close(self) -> None:
        """Close the event log if it was opened (the SQLite stores need no closing)."""
        if "events" in self.__dict__:
            self.events.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Engine({self.data.root}, {self.backends.describe()})"
