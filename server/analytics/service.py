"""The analytics service: one consumer group (`analytics`) feeding one DuckDB file through one writer.

The consumer thread polls the log and queues batches; the writer thread owns the write connection and
loads each batch in one transaction before committing the log offsets (at-least-once; loading skips
what `consumed` says is in, so nothing counts twice). Queries run on cursors of their own.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path
from typing import Any

import duckdb

from server import config
from server.analytics import loader, results, snapshot
from server.errors import Conflict, MiniflixError
from server.events.api import TOPICS
from server.events.log import EventLog
from server.events.model import Event
from server.paths import DataDir

log = logging.getLogger(__name__)
GROUP = "analytics"

config.register("analytics_batch", 50_000, "Most events the analytics writer loads in one transaction "
                "(larger batches load faster: fewer commits, bigger appends).", int)


DEMO_BATCHES = """SELECT demo, COUNT(*) FILTER (WHERE type = 'started'), MIN(happened_at), MAX(happened_at)
FROM playback_events WHERE demo IS NOT NULL GROUP BY demo ORDER BY MIN(happened_at), demo"""


class AnalyticsService:
    """Owns the DuckDB file for as long as it is open (a DuckDB file admits one writing process)."""

    def __init__(self, data: DataDir, log: EventLog, *, path: Path | None = None,
                 batch_size: int | None = None) -> None:
        self.path = Path(path) if path else data.analytics_db
        self._log = log
        self._batch = batch_size or config.get("analytics_batch")
        self._db: duckdb.DuckDBPyConnection | None = None
        self._consumed: dict[tuple[str, int], int] = {}
        self._queue: queue.Queue[list[Event] | None] = queue.Queue(maxsize=8)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._file_lock = snapshot.WriterLock(self.path)
        self.error: BaseException | None = None

    def open(self) -> None:
        """Take the file (raises `Conflict` if another process holds it) and resume from its offsets."""
        if self._db is not None:
            return
        try:
            self._db = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            raise Conflict(f"The analytics database {self.path} is in use by another process.",
                           hint="read it through analytics.snapshot.open_snapshot()") from exc
        loader.create(self._db)
        self._follow_this_log()
        self._consumed = loader.consumed_offsets(self._db)
        # The DuckDB file, not the log's group offsets, says what is loaded (they differ after a crash
        # between the two commits, or for a rebuilt file): resume from it and tell the log.
        positions = {slot: self._consumed.get(slot, 0) for slot in self._log.heads(TOPICS)}
        self._log.seek(GROUP, positions)
        self._log.commit(GROUP, positions)

    def _follow_this_log(self) -> None:
        """A file loaded from another event log (the server moved to a cluster's bus, or a new
        embedded log) holds offsets that mean nothing here: start it afresh from this log."""
        assert self._db is not None
        identity, before = self._log.identity(), loader.loaded_from(self._db)
        if before is not None and before != identity:
            log.warning("analytics: %s was loaded from another event log (%s, now %s); replaying this one",
                        self.path, before, identity)
            self._db.close()
            for path in (self.path, self.path.with_name(self.path.name + ".wal")):
                path.unlink(missing_ok=True)
            self._db = duckdb.connect(str(self.path))
            loader.create(self._db)
        if before != identity:
            loader.record_loaded_from(self._db, identity)

    def start(self) -> None:
        """Open, then run the consumer and writer threads until `stop()`."""
        self.open()
        self._stop.clear()
        self._threads = [threading.Thread(target=self._consume, name="analytics-consumer", daemon=True),
                         threading.Thread(target=self._write, name="analytics-writer", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop the threads after the batch in hand is loaded, then release the file. Idempotent."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
        if self._db is not None:
            self._db.close()
            self._db = None

    def catch_up(self) -> int:
        """Load every pending event now, in this thread (CLI, tests); returns how many were new."""
        self.open()
        loaded = 0
        while batch := self._log.poll(GROUP, TOPICS, max_events=self._batch, timeout=0):
            loaded += self._load(batch)
        return loaded

    def rebuild(self) -> int:
        """Drop the DuckDB file and replay the whole log into a new one (not while started)."""
        if self._threads:
            raise Conflict("Stop the analytics service before rebuilding it.")
        self.stop()
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            path.unlink(missing_ok=True)
        return self.catch_up()

    def query(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of a named query (`queries.QUERIES`) as dicts."""
        return self.rows(name, **params).as_dicts()

    def rows(self, name: str, **params: Any) -> results.Rows:
        """Rows of a named query with its column names (known even when there are no rows)."""
        return results.run(self._conn(), name, **params)

    def export(self, name: str, fmt: str, path: Path, **params: Any) -> Path:
        """Write a named query's rows to `path` as csv, parquet or json (whole or not at all)."""
        results.export(self._conn(), name, fmt, path, **params)
        return Path(path)

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own on the open file, for reading beside the writer (close it when done)."""
        return self._conn().cursor()

    def demo_batches(self) -> list[dict[str, Any]]:
        """The demo weeks (server/demo_week.py) whose rows analytics holds: views and time span each."""
        cursor = self.reader()
        try:
            rows = cursor.execute(DEMO_BATCHES).fetchall()
        finally:
            cursor.close()
        return [{"batch": b, "views": int(v), "first_at": f, "last_at": la} for b, v, f, la in rows]

    def views(self) -> dict[str, int]:
        """Views per title, for search's "most viewed" sort."""
        return {r["video_id"]: r["views"] for r in self.query("views")}

    def _conn(self) -> duckdb.DuckDBPyConnection:
        if self._db is None:
            raise MiniflixError("The analytics service is not open.", hint="call open() or start() first")
        return self._db

    def _consume(self) -> None:
        while not self._stop.is_set():
            batch = self._log.poll(GROUP, TOPICS, max_events=self._batch, timeout=0.5)
            if batch:
                self._queue.put(batch)
        self._queue.put(None)

    def _write(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                self._load(batch)
            except Exception as exc:  # keep serving queries; the batch is redelivered on restart
                self.error = exc
                log.exception("analytics: loading %d events failed", len(batch))

    def _load(self, batch: list[Event]) -> int:
        with self._file_lock:
            loaded = loader.load(self._conn(), batch, self._consumed)
        self._log.commit(GROUP, batch)
        return loaded
